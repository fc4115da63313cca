// Package workflows embeds the example workflow so that `konductor init`
// writes this very file: one source of truth, linted by `make lint` and
// linked from the README, never a copy that drifts from it.
package workflows

import _ "embed"

// Konductor is konductor.yml, the full pattern for a platform repository.
//
//go:embed konductor.yml
var Konductor string
