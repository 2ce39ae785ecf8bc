import { PodlinkError } from '@podlink/core'

/** The `reason` values of metav1.Status that this server produces (the real API's spelling). */
export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Expired'
  | 'Invalid'
  | 'MethodNotAllowed'
  | 'UnsupportedMediaType'
  | 'NotAcceptable'
  | 'InternalError'

export interface StatusDetails {
  name?: string
  group?: string
  kind?: string
}

/** A metav1.Status object, the body of every error response and of watch ERROR events. */
export interface StatusObject {
  kind: 'Status'
  apiVersion: 'v1'
  metadata: Record<string, never>
  status: 'Failure' | 'Success'
  message: string
  reason: StatusReason
  details?: StatusDetails
  code: number
}

/**
 * An error that maps onto one HTTP status and one metav1.Status body. Handlers throw it; the
 * server turns it into the response, so every failure the client sees is a well-formed Status.
 */
export class ApiError extends PodlinkError {
  readonly httpCode: number
  readonly reason: StatusReason
  readonly details: StatusDetails | undefined

  constructor(httpCode: number, reason: StatusReason, message: string, details?: StatusDetails) {
    super(`apiserver-${reason}`, message)
    this.name = 'ApiError'
    this.httpCode = httpCode
    this.reason = reason
    this.details = details
  }

  toStatus(): StatusObject {
    const status: StatusObject = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.httpCode,
    }
    if (this.details !== undefined) status.details = this.details
    return status
  }
}

/** `resource` is the plural with its group, as the real server prints it (`endpointslices.discovery.k8s.io`). */
export function notFound(resource: string, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource })
}

export function alreadyExists(resource: string, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${resource} "${name}" already exists`, { name, kind: resource })
}

export function conflict(resource: string, name: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, kind: resource },
  )
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message)
}

export function invalid(resource: string, name: string, message: string): ApiError {
  return new ApiError(422, 'Invalid', `${resource} "${name}" is invalid: ${message}`, { name, kind: resource })
}

/** The watch window no longer holds `rv`: the client must relist (informers do so on 410). */
export function expired(message: string): ApiError {
  return new ApiError(410, 'Expired', message)
}
