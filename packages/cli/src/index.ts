export { type AgentClient, agentSocket, createAgentClient, DEFAULT_SOCKET, fetchStatus } from './agent-client.ts'
export { COMMANDS, exitCodeOf, runCli } from './run-cli.ts'
