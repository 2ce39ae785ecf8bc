export { observeFixture } from './observe-fixture.ts'
export { type MetricFamily, parsePrometheusText, type Sample, sampleValue } from './parse-prometheus-text.ts'
