// A stored job row as the repository returns it, for tests of the rules above the repository.
import type { JobRow } from "../../../src/services/jobs/JobsRepo.ts"

export const jobRow = (overrides: Partial<JobRow> = {}): JobRow => ({
  id: 1,
  name: "Nightly",
  components_json: "[]",
  targets_json: "[\"host-1\"]",
  schedule_type: "immediately",
  start_ts: null,
  duration_stop_enabled: false,
  expiration: "no_expire",
  execution_context: "system",
  credential_id: null,
  use_service_account: false,
  enabled: true,
  created_at: 1,
  updated_at: 1,
  timezone: null,
  created_by: "alice",
  ...overrides
})
