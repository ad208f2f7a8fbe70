/**
 * Time texts made once a second: the access log's ISO time, the `Date`
 * header, the event's CLF time and the SigV4 stamp are each formatted from
 * the current second only when it changes (formatting a `Date` costs more
 * than the rest of those lines).
 *
 * Pure: the time comes in as an argument.
 *
 * @module
 */

/**
 * `format` of the whole second (epoch milliseconds, a multiple of 1000)
 * that `ms` falls in, computed again only when the second changes.
 */
export function perSecond(format: (secondMs: number) => string): (ms: number) => string {
  let second = NaN;
  let text = "";
  return (ms) => {
    const s = Math.floor(ms / 1000);
    if (s !== second) {
      text = format(s * 1000);
      second = s;
    }
    return text;
  };
}
