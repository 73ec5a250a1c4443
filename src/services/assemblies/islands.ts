// The library's islands: each a top-level folder of the Assemblies root with its own file kinds.
// Request names and aliases as the original accepted them (case-insensitive, trimmed).

type IslandKey = "workflows" | "scripts" | "ansible"

export interface Island {
  readonly key: IslandKey
  /** Folder under the Assemblies root. */
  readonly directory: "Workflows" | "Scripts" | "Ansible_Playbooks"
  /** File endings a listing shows (lower-case). */
  readonly extensions: ReadonlyArray<string>
}

const ISLANDS: Readonly<Record<IslandKey, Island>> = {
  workflows: { key: "workflows", directory: "Workflows", extensions: [".json"] },
  scripts: { key: "scripts", directory: "Scripts", extensions: [".json", ".ps1", ".bat", ".sh"] },
  ansible: { key: "ansible", directory: "Ansible_Playbooks", extensions: [".json", ".yml"] }
}

const ALIASES: Readonly<Record<string, IslandKey>> = {
  workflows: "workflows",
  workflow: "workflows",
  scripts: "scripts",
  script: "scripts",
  ansible: "ansible",
  ansible_playbooks: "ansible",
  "ansible-playbooks": "ansible",
  playbooks: "ansible"
}

/** The island a request names, or `undefined` (→ 400 "invalid island"). */
export const islandNamed = (name: string): Island | undefined => {
  const key = Object.hasOwn(ALIASES, name.trim().toLowerCase()) ? ALIASES[name.trim().toLowerCase()] : undefined
  return key === undefined ? undefined : ISLANDS[key]
}

/** The island whose folder is `directory` (exact, as component paths write it). */
export const islandOfDirectory = (directory: string): Island | undefined =>
  Object.values(ISLANDS).find((island) => island.directory === directory)

/** Every new file is a JSON document, whatever the island or type (the original's rule). */
export const DEFAULT_EXTENSION = ".json"

/** Document type for new content: `ansible` on the Ansible island, else a known `type` hint, else PowerShell. */
export const defaultTypeFor = (island: Island, typeHint: string): string => {
  if (island.key === "ansible") return "ansible"
  const hint = typeHint.trim().toLowerCase()
  return ["powershell", "batch", "bash", "ansible"].includes(hint) ? hint : "powershell"
}
