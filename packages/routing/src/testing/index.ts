export {
  fakePeerId,
  makeEndpoint,
  makeLargeView,
  makeNode,
  makeService,
  makeView,
  type NodeSpec,
  type ServiceSpec,
  type ViewSpec,
  withNode,
  withoutNode,
} from './make-view.ts'
