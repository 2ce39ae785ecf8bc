/** Generates deploy/ from one source and checks it; `node deploy/generate.ts` is the entry point. */
export { buildManifests } from './build-manifests.ts'
export { checkAgentInputs } from './check-agent-inputs.ts'
export { DEFAULT_VALUES, type DeployValues } from './deploy-values.ts'
export { lintDockerfile } from './dockerfile-lint.ts'
export { generateDeploy, plainObjects } from './generate-deploy.ts'
export { renderChart } from './render-chart.ts'
