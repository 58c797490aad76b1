/**
 * The catalogue of real failures: each has a stable code (tests assert on it) and an HTTP status.
 * Expected bad input on the data path is a value (`{ ok: false, reason }`), not one of these.
 */
export const ERRORS = {
  VALIDATION: { code: 'PRECALL_ERR_VALIDATION', status: 400 },
  UNAUTHENTICATED: { code: 'PRECALL_ERR_UNAUTHENTICATED', status: 401 },
  FORBIDDEN: { code: 'PRECALL_ERR_FORBIDDEN', status: 403 },
  NOT_FOUND: { code: 'PRECALL_ERR_NOT_FOUND', status: 404 },
  CONFLICT: { code: 'PRECALL_ERR_CONFLICT', status: 409 },
  TRANSITION: { code: 'PRECALL_ERR_TRANSITION', status: 409 },
  RULE_INVALID: { code: 'PRECALL_ERR_RULE_INVALID', status: 422 },
  UNSAFE_URL: { code: 'PRECALL_ERR_UNSAFE_URL', status: 422 },
  INTERNAL: { code: 'PRECALL_ERR_INTERNAL', status: 500 },
} as const

export type ErrorKind = keyof typeof ERRORS

export class PrecallError extends Error {
  readonly code: string
  readonly statusCode: number
  constructor(kind: ErrorKind, message: string, readonly details?: unknown) {
    super(message)
    this.code = ERRORS[kind].code
    this.statusCode = ERRORS[kind].status
  }
}
