// Errors every capability fails with. Each carries its HTTP status; on the wire it is exactly
// `{"error": "<code>"}` (plus the documented extras), never Effect's `_tag` (spec: auth-enrollment.md §1).
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as Schema from "effect/Schema"

const wireFields = {
  error: Schema.String,
  detail: Schema.optional(Schema.String)
}

export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", wireFields, HttpApiSchema.annotations({ status: 400 })) {}
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", wireFields, HttpApiSchema.annotations({ status: 401 })) {}
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", wireFields, HttpApiSchema.annotations({ status: 403 })) {}
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", wireFields, HttpApiSchema.annotations({ status: 404 })) {}
export class MethodNotAllowed extends Schema.TaggedError<MethodNotAllowed>()("MethodNotAllowed", wireFields, HttpApiSchema.annotations({ status: 405 })) {}
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", wireFields, HttpApiSchema.annotations({ status: 409 })) {}
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", wireFields, HttpApiSchema.annotations({ status: 413 })) {}
export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()("UnsupportedMediaType", wireFields, HttpApiSchema.annotations({ status: 415 })) {}
export class NotImplemented extends Schema.TaggedError<NotImplemented>()("NotImplemented", wireFields, HttpApiSchema.annotations({ status: 501 })) {}

/** 429 `{"error":"rate_limited","retry_after":<seconds>}` plus a `Retry-After` header (≥ 1 s). */
export class RateLimited extends Schema.TaggedError<RateLimited>()(
  "RateLimited",
  { error: Schema.Literal("rate_limited"), retry_after: Schema.Number, detail: Schema.optional(Schema.String) },
  HttpApiSchema.annotations({ status: 429 })
) {
  static of(retryAfterSeconds: number, detail?: string): RateLimited {
    return new RateLimited({
      error: "rate_limited",
      retry_after: retryAfterSeconds,
      ...(detail === undefined ? {} : { detail })
    })
  }
}

/**
 * 503 with `Retry-After`: a transient fault (database busy or failing). Never 401/403, so an agent
 * keeps its credentials and simply retries.
 */
export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()(
  "ServiceUnavailable",
  { error: Schema.String, retry_after: Schema.Number },
  HttpApiSchema.annotations({ status: 503 })
) {
  static readonly storage = () => new ServiceUnavailable({ error: "service_unavailable", retry_after: 5 })
}

type WireErrorClass = Schema.Schema.AnyNoContext & {
  readonly fields: Schema.Struct.Fields
  new(props: any): any
}

/**
 * The schema an `HttpApi` declares for an error class: the class on the type side, its fields minus
 * `_tag` on the wire, with the class's status.
 */
export const wire = <C extends WireErrorClass>(
  cls: C,
  identifier: string
): Schema.Schema<Schema.Schema.Type<C>, { readonly [key: string]: unknown }, never> => {
  const { _tag: _, ...fields } = cls.fields
  // The fields of a generic class type have an unknown context; error classes need none, and an
  // `unknown` context here would leak into every group and middleware that declares the error.
  return Schema.transform(Schema.Struct(fields), Schema.typeSchema(cls), {
    strict: false,
    decode: (input) => new cls(input),
    encode: (value: Record<string, unknown>) => {
      const { _tag: __, ...rest } = value
      return rest
    }
  }).annotations({ ...HttpApiSchema.annotations({ status: HttpApiSchema.getStatusErrorAST(cls.ast) }), identifier }) as never
}

export const Wire = {
  BadRequest: wire(BadRequest, "BadRequest"),
  Unauthorized: wire(Unauthorized, "Unauthorized"),
  Forbidden: wire(Forbidden, "Forbidden"),
  NotFound: wire(NotFound, "NotFound"),
  MethodNotAllowed: wire(MethodNotAllowed, "MethodNotAllowed"),
  Conflict: wire(Conflict, "Conflict"),
  PayloadTooLarge: wire(PayloadTooLarge, "PayloadTooLarge"),
  UnsupportedMediaType: wire(UnsupportedMediaType, "UnsupportedMediaType"),
  NotImplemented: wire(NotImplemented, "NotImplemented"),
  RateLimited: wire(RateLimited, "RateLimited"),
  ServiceUnavailable: wire(ServiceUnavailable, "ServiceUnavailable")
}
