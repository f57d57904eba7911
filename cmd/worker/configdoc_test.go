package main

import (
	"os"
	"testing"

	"github.com/prreconciler/prreconciler/config"
	"github.com/prreconciler/prreconciler/hygiene"
)

// configurationDoc is generated from config's table by TestConfigurationDoc with
// PRRECONCILER_UPDATE_DOCS=1; without it the test fails when the file differs.
const configurationDoc = "../../docs/configuration.md"

// configurationMarkdown is docs/configuration.md: the variables this command reads, the
// worker's and diff hygiene's, each with its default and meaning, from their `desc` tags.
func configurationMarkdown() string {
	return `# Configuration

<!-- Generated from config.Worker and hygiene.Config by TestConfigurationDoc (cmd/worker):
     edit the desc tags there, then run PRRECONCILER_UPDATE_DOCS=1 go test -run TestConfigurationDoc ./cmd/worker/ -->

A reconciler binary (` + "`cmd/worker`" + `, or any ` + "`worker.Main`" + `) reads its environment once at start-up
and names every missing or bad variable in one error. ` + "`worker -h`" + ` prints the same table.

- With neither ` + "`INTAKE_SUBSCRIPTION`" + ` nor ` + "`PUBSUB_SUBSCRIPTION`" + ` it serves Pub/Sub pushes on ` + "`PORT`" + `
  (` + "`POST /intake`, `POST /reconcile` and `POST /`, `GET /healthz`" + `); with either or both it pulls those
  stages (one process may pull both, or separate processes one each).
- ` + "`RECONCILE_TOPIC`" + ` is required to serve the intake stage, push or pull.
- A reconciler with settings of its own reads them from the same environment (` + "`config.Process`" + `) and
  documents them the same way (` + "`config.VariablesOf`" + `).

## The worker

` + config.MarkdownTable(config.Variables()) + `
## Diff hygiene (` + "`hygiene.Config`" + `, the reconciler of ` + "`cmd/worker`" + `)

` + config.MarkdownTable(config.VariablesOf(hygiene.Config{}))
}

func TestConfigurationDoc(t *testing.T) {
	doc := configurationMarkdown()
	if os.Getenv("PRRECONCILER_UPDATE_DOCS") != "" {
		if err := os.WriteFile(configurationDoc, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile(configurationDoc)
	if err != nil || string(have) != doc {
		t.Errorf("%s is not generated from config's table (err %v): run PRRECONCILER_UPDATE_DOCS=1 go test -run TestConfigurationDoc ./cmd/worker/", configurationDoc, err)
	}
}
