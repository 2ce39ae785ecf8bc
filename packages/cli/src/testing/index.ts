export { FIXTURE_NOW, FIXTURE_PEER_IDS, fixtureStatus, fixtureStatusB } from './fixture-status.ts'
