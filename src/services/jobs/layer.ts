// The jobs capability, assembled: the repository, realtime seam, dispatch, results, the REST-facing
// service and the scheduler (whose fiber `SchedulerLive` forks). Needs the database, config, keys,
// the script library, the agent registry and outbox, and `Audit`.
import * as Layer from "effect/Layer"
import { Scheduler } from "../../scheduler/Scheduler.ts"
import { JobChannels } from "./JobChannels.ts"
import { JobDispatch } from "./JobDispatch.ts"
import { JobResults } from "./JobResults.ts"
import { JobsRepo } from "./JobsRepo.ts"
import { ScheduledJobs } from "./ScheduledJobs.ts"

/** Everything but the realtime seam, so tests can supply `JobChannels.Test`. */
export const JobsCore = Layer.mergeAll(ScheduledJobs.Default, JobResults.Default, Scheduler.Default).pipe(
  Layer.provideMerge(JobDispatch.Default),
  Layer.provideMerge(JobsRepo.Default)
)

export const JobsLive = JobsCore.pipe(Layer.provideMerge(JobChannels.Default))
