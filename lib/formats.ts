/**
 * Picks the event and result shapes of a rule's `payload_format`: `2.0`
 * (default; Function URL / HTTP API), `1.0` (REST API proxy) or `alb`
 * (ALB target group, optionally multi-value). Pure.
 *
 * @module
 */

import type { PayloadFormat } from "./config.ts";
import type { EventV2 } from "./event.ts";
import { preludeToResponse, resultToResponse, splitPrelude } from "./transform.ts";
import { eventV2ToAlb, resultAlbToResponse } from "./transform_alb.ts";
import { eventV2ToV1, resultV1ToResponse } from "./transform_v1.ts";

/** The format settings of a rule. */
export interface FormatOptions {
  /** Absent means `2.0`. */
  payloadFormat?: PayloadFormat | undefined;
  multiValueHeaders?: boolean | undefined;
}

const encoder = new TextEncoder();

/** The JSON bytes of the event in the rule's format, derived from the 2.0 event. */
export function encodeEvent(format: FormatOptions, event: EventV2): Uint8Array {
  switch (format.payloadFormat ?? "2.0") {
    case "2.0":
      return encoder.encode(JSON.stringify(event));
    case "1.0":
      return encoder.encode(JSON.stringify(eventV2ToV1(event)));
    case "alb":
      return encoder.encode(JSON.stringify(eventV2ToAlb(event, format.multiValueHeaders === true)));
  }
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
