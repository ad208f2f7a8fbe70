/**
 * Waiting for the next turn of the event loop, cheaply. `setTimeout(0)`
 * waits for Deno's timer to come round, which under I/O load is about 1 ms
 * (measured: 1,094 µs per yield against 17 µs for a message through a
 * `MessageChannel`, with 4 sockets busy); a message is delivered by an op, so
 * the loop polls every socket and pipe once in between, which is what a
 * caller waiting for output already in a pipe needs.
 *
 * All callers share one channel while any waits. An open channel keeps the
 * process alive (Deno's `MessagePort.unref` does not release it), so it is
 * closed once nobody waits and opened again by the next caller.
 *
 * @module
 */

let channel: MessageChannel | undefined;
const waiting: (() => void)[] = [];

function open(): MessageChannel {
  const ch = new MessageChannel();
  ch.port1.onmessage = () => {
    waiting.shift()?.();
    // A caller that waits again does so from the continuation just queued; look after it has run.
    if (waiting.length === 0) queueMicrotask(() => queueMicrotask(closeIfIdle));
  };
  return ch;
}

function closeIfIdle(): void {
  if (waiting.length > 0 || channel === undefined) return;
  channel.port1.close();
  channel.port2.close();
  channel = undefined;
}

/** Resolves after the event loop has polled its I/O at least once. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    channel ??= open();
    waiting.push(resolve);
    channel.port2.postMessage(null);
  });
}
