export { computeRouting, type RoutingInput } from './compute-routing.ts'
export { describeRoute } from './describe-route.ts'
export { LAN_LABEL, PEER_ID_ANNOTATION, peerIdShapeError } from './node-facts.ts'
export { isEmptyDiff, type RouteChange, type RoutingDiff, routingDiff } from './routing-diff.ts'
