// The operator-side services on a fresh temp root: real SQLite file, real migrations, real Audit.
import * as Layer from "effect/Layer"
import { EngineConfig } from "../../src/layers/Config.ts"
import { applyMigrations } from "../../src/layers/Migrations.ts"
import { SqlLive } from "../../src/layers/Sql.ts"
import { Audit } from "../../src/services/audit/Audit.ts"
import { KeyMaterial } from "../../src/layers/keys/KeyMaterial.ts"
import { Revocations } from "../../src/services/revocations/Revocations.ts"
import { OperatorsLive } from "../../src/app/capabilities.ts"
import { tempRoot } from "./engine.ts"

export const migratedDatabase = (root: string) =>
  Layer.effectDiscard(applyMigrations).pipe(
    Layer.provideMerge(SqlLive),
    Layer.provideMerge(EngineConfig.forRoot(root)),
    Layer.orDie
  )

/** Everything `OperatorsLive` provides, plus Audit, SQL and config, on its own database. */
export const operatorServices = (root: string = tempRoot("borealis-ops-")) =>
  OperatorsLive.pipe(
    Layer.provideMerge(Layer.mergeAll(Audit.Default, Revocations.Default)),
    Layer.provideMerge(KeyMaterial.Test),
    Layer.provideMerge(migratedDatabase(root))
  )
