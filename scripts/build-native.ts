// Builds libpodlink-relay (packages/proxy/native/relay.c) when it is missing or stale; `./run setup` runs this.
import { buildNativeRelay, RELAY_LIBRARY } from '../packages/proxy/src/native/build-native-relay.ts'

console.log(buildNativeRelay() ? `built ${RELAY_LIBRARY}` : `${RELAY_LIBRARY} is up to date`)
