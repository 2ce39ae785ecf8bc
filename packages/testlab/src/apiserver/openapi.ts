import type { IncomingMessage } from 'node:http'
import { KUBERNETES_VERSION } from './discovery.ts'

/**
 * An empty OpenAPI v2 document: `swagger: "2.0"`, no paths, no definitions.
 *
 * kubectl (1.20 and 1.32 alike) refuses `apply`/`create` with "failed to download openapi" when
 * `/openapi/v2` is missing, unless run with `--validate=false`. Given a document with no
 * definitions, its client-side validation skips every kind ("resource not present, skip") and
 * `apply` computes its strategic merge patch from the types compiled into kubectl, which is what
 * it does for built-in kinds anyway. `/openapi/v3` stays 404: kubectl 1.32 then falls back to v2.
 *
 * kubectl asks for the gnostic protobuf form (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`),
 * so this serves the protobuf encoding of `Document{swagger: "2.0"}`: field 1, wire type 2
 * (tag 0x0a), length 3, "2.0"; other clients get the same document as JSON.
 */
const PROTOBUF_DOCUMENT = Buffer.from([0x0a, 0x03, 0x32, 0x2e, 0x30])

export function openApiV2(req: IncomingMessage): { contentType: string; body: Buffer } {
  const accept = req.headers.accept ?? ''
  if (accept.includes('protobuf')) {
    return { contentType: 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf', body: PROTOBUF_DOCUMENT }
  }
  const json = { swagger: '2.0', info: { title: 'Kubernetes', version: KUBERNETES_VERSION.gitVersion }, paths: {} }
  return { contentType: 'application/json', body: Buffer.from(JSON.stringify(json)) }
}
