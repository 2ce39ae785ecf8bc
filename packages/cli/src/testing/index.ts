export { type FakeCli, fakeCli } from './fake-cli-context.ts'
export { FIXTURE_NOW, FIXTURE_PEER_IDS, fixtureStatus, fixtureStatusB, fixtureTrace } from './fixture-status.ts'
