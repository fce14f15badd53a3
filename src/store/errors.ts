// StoreError: every failure a store reports on purpose, with a code and the store it concerns.

/**
 * What went wrong with a store:
 * - `STORE_CORRUPT`: the file is not an SQLite database, or is damaged;
 * - `STORE_FOREIGN`: the file or schema holds tables that shadowchain did not create (left untouched);
 * - `STORE_VERSION`: the store's schema version is not the one this shadowchain reads;
 * - `STORE_UNREACHABLE`: the database server cannot be reached or refused the login;
 * - `STORE_QUERY`: a bad argument (a limit, a keep policy, an unknown paging cursor);
 * - `STORE_INPUT`: a run whose summary does not match its document;
 * - `STORE_NOT_FOUND`: steps appended to a run that was never begun;
 * - `STORE_SEQ`: steps appended with a gap in their seqs;
 * - `STORE_CLOSED`: the store was closed;
 * - `STORE_FAILED`: anything else the database reported (the `cause`).
 */
export type StoreErrorCode =
  | 'STORE_CORRUPT'
  | 'STORE_FOREIGN'
  | 'STORE_VERSION'
  | 'STORE_UNREACHABLE'
  | 'STORE_QUERY'
  | 'STORE_INPUT'
  | 'STORE_NOT_FOUND'
  | 'STORE_SEQ'
  | 'STORE_CLOSED'
  | 'STORE_FAILED'

/** A store's failure: `code` says what kind, `where` which store (a path, or a URL without its password). */
export class StoreError extends Error {
  override readonly name = 'StoreError'
  /** What kind of failure. */
  readonly code: StoreErrorCode
  /** The store's path or redacted URL. */
  readonly where: string

  /**
   * @param code - what kind of failure
   * @param where - the store's path or redacted URL (put at the start of the message)
   * @param message - what happened, in words
   * @param cause - the driver's error, if any
   */
  constructor(code: StoreErrorCode, where: string, message: string, cause?: unknown) {
    super(`${where}: ${message}`, cause === undefined ? undefined : { cause })
    this.code = code
    this.where = where
  }
}

/** A connection URL fit for messages: the password replaced by `***` (and nothing else changed). */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    // Not a URL (a key=value connection string): drop any password=… pair.
    return url.replace(/(password\s*=\s*)('[^']*'|\S+)/gi, '$1***')
  }
}
