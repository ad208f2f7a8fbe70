/**
 * Picks the event and result shapes of a rule's `payload_format`: `2.0`
 * (default; Function URL / HTTP API), `1.0` (REST API proxy) or `alb`
 * (ALB target group, optionally multi-value). Pure.
 *
 * @module
 */

import type { EventV2 } from "./event.ts";
import { type Payload, spliceBody } from "./payload.ts";
import { preludeToResponse, splitPrelude } from "./prelude.ts";
import { resultToResponse } from "./result.ts";
import { eventV2ToAlb, resultAlbToResponse } from "./alb.ts";
import { eventV2ToV1, resultV1ToResponse } from "./v1.ts";
import type { GatewayFacts } from "./gateway.ts";

/** Event/result shapes a rule can speak. */
export const PAYLOAD_FORMATS = ["2.0", "1.0", "alb"] as const;
/** `2.0` (HTTP API / Function URL), `1.0` (REST API proxy) or `alb` (ALB target group). */
export type PayloadFormat = typeof PAYLOAD_FORMATS[number];

/** The format settings of a rule. */
export interface FormatOptions {
  /** Absent means `2.0`. */
  payloadFormat?: PayloadFormat | undefined;
  multiValueHeaders?: boolean | undefined;
}

const encoder = new TextEncoder();

/**
 * The JSON bytes of the event in the rule's format, derived from the 2.0
 * event. With `splicedBody` (2.0 only: an event built without its body and
 * with `isBase64Encoded: true`), that body is spliced in as base64 while the
 * payload is written ({@linkcode SplicedPayload}). A routed request's 1.0
 * event reads its route from `gateway` (the 2.0 event already carries it).
 */
export function encodeEvent(
  format: FormatOptions,
  event: EventV2,
  splicedBody?: Uint8Array,
  gateway?: GatewayFacts,
): Payload {
  switch (format.payloadFormat ?? "2.0") {
    case "2.0":
      return splicedBody ? spliceBody(JSON.stringify(event), splicedBody) : encodeJson(event);
    case "1.0":
      return encodeJson(eventV2ToV1(event, gateway));
    case "alb":
      return encodeJson(eventV2ToAlb(event, format.multiValueHeaders === true));
  }
}

/** Base64 bodies at least this long are spliced into the JSON rather than stringified with it. */
export const SPLICE_FROM = 64 * 1024;
const EMPTY_BODY = '"body":""';

/**
 * `JSON.stringify` + UTF-8 encoding, except that a large base64 body (which
 * needs no JSON escaping) is written straight into the output bytes: one copy
 * of a 1 MB body fewer per request, and no 1.3 MB intermediate JSON string.
 * The event's own `"body"` key is the only unescaped `"body":""` in its JSON
 * (any other occurrence would sit inside a string, with escaped quotes).
 */
export function encodeJson(
  event: { body?: string | null | undefined; isBase64Encoded?: boolean },
): Uint8Array {
  const body = event.body;
  if (typeof body !== "string" || body.length < SPLICE_FROM || event.isBase64Encoded !== true) {
    return encoder.encode(JSON.stringify(event));
  }
  const json = JSON.stringify({ ...event, body: "" });
  const at = json.lastIndexOf(EMPTY_BODY) + EMPTY_BODY.length - 1;
  const head = encoder.encode(json.slice(0, at));
  const tail = encoder.encode(json.slice(at));
  const out = new Uint8Array(head.length + body.length + tail.length);
  out.set(head);
  encoder.encodeInto(body, out.subarray(head.length, head.length + body.length));
  out.set(tail, head.length + body.length);
  return out;
}

/**
 * Turns a successful function's bytes into the response in the rule's
 * format. Only 2.0 knows the streaming prelude (a Function URL feature).
 */
export function formatResultToResponse(format: FormatOptions, body: Uint8Array, method = "GET"): Response {
  switch (format.payloadFormat ?? "2.0") {
    case "2.0": {
      const framed = splitPrelude(body);
      if (framed) return preludeToResponse(framed.prelude, framed.body, method);
      return resultToResponse(body, method);
    }
    case "1.0":
      return resultV1ToResponse(body, method);
    case "alb":
      return resultAlbToResponse(body, format.multiValueHeaders === true, method);
  }
}
