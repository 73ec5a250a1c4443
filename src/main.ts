// Launch the Engine; SIGINT/SIGTERM interrupt it, which closes every layer in reverse order.
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AppLive } from "./app/App.ts"

Layer.launch(AppLive).pipe(
  Effect.tapErrorCause((cause) =>
    Effect.sync(() => {
      const failure = cause._tag === "Fail" ? cause.error : undefined
      const text = failure instanceof Error ? failure.message : String(cause)
      process.stderr.write(`borealis-engine: cannot start: ${text}\n`)
    })
  ),
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
