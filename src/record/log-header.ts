// The header of an entry of an event log (event-log.ts): one small integer saying what the
// entry is and which slots follow it. Bit layout, low to high:
//
//   0-1    kind: a whole event, a middleware call, a link's start, a link's end
//   2      ctx differs from the entry before (its slot follows)
//   3-5    mwctx: how it differs (State below; slots follow)
//   6-8    metrics: how it differs (State below; slots follow)
//   9-10   link: the same as before, another (its slot follows), none, or the chain's next one
//   11     middleware.after (a call) / the last attempt's start time follows (a link's end)
//   12-14  a link's end: how its patches are kept
//   15-17  a link's end: the length of its patches' path, kept as its keys (0: the array)
//   18-23  a call: its middleware call, by number in the log's table (0: its slot follows)
/** The bits of an entry's header (see above). */
export const H = {
  Event: 0,
  Hook: 1,
  Start: 2,
  End: 3,
  Kind: 3,
  Ctx: 1 << 2,
  MwShift: 3,
  MetricsShift: 6,
  SomeLink: 1 << 9,
  NoLink: 2 << 9,
  NextLink: 3 << 9,
  LinkMask: 3 << 9,
  After: 1 << 11,
  T0: 1 << 11,
  Lists: 0,
  Replace: 1 << 12,
  Add: 2 << 12,
  Remove: 3 << 12,
  Empty: 4 << 12,
  None: 5 << 12,
  /** Not kept: the diff of the state the link began from (its slot follows) and the entry's ctx. */
  Derived: 6 << 12,
  PatchMask: 7 << 12,
  PathShift: 15,
  MaxInline: 7,
  CallShift: 18,
  CallMask: 63,
} as const

/** How a state (mwctx or metrics) differs from the entry before: 3 bits at its shift. */
export const State = {
  /** The same object. */
  Same: 0,
  /** Another object: its slot follows. */
  Object: 1,
  /** One key's value changed: its index and the value follow. */
  Set: 2,
  /** One key added at the end: the key and the value follow. */
  Append: 3,
  /** The frozen empty state (a link's metrics as it begins). */
  Empty: 4,
  /** `undefined` (metrics outside a link). */
  Undefined: 5,
  /** The empty state with one key added: the key and the value follow. */
  EmptyAppend: 6,
  Mask: 7,
} as const
