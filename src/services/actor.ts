// Who acts on an operator request: every capability that audits or checks ownership takes one. Shared
// here (not in operators) so that no capability depends on the operators folder for a type.

/** Who is asking: an operator's username (HTTP) or `cli:<user>` (the operator CLI, which acts as an Admin). */
export interface Actor {
  readonly username: string
  readonly ip?: string | undefined
  /** The operator's role; absent for the CLI (the server's own administrator). */
  readonly role?: string | undefined
}
