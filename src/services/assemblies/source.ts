// An assembly's text as the library hands it to the job fabricator: the text, a refusal because of its
// size, or nothing. Lives with the library so that jobs depend on assemblies, never the reverse.

/** Scripts larger than this are not dispatched (their payload would flood every agent socket). */
export const MAX_SCRIPT_BYTES = 16 * 1024 * 1024

/** A file the reader refused to load because of its size. */
interface SourceTooLarge {
  readonly _tag: "TooLarge"
  readonly bytes: number
}

/** What the reader found for a path: its text, a refusal, or nothing (missing / not a file). */
export type SourceText = string | SourceTooLarge | undefined

/** An assembly's text by its path under the Assemblies root. */
export type SourceLookup = (path: string) => SourceText
