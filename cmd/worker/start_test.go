package main

import (
	"context"
	"maps"
	"strconv"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/prreconciler/prreconciler/githubtest"
	"github.com/prreconciler/prreconciler/hygiene"
	"github.com/prreconciler/prreconciler/worker"
)

// appVars is the environment of this command against the fake gh, with extra on top: push
// mode, five delivery attempts (so no retry window is checked) and debug logs.
func appVars(gh *githubtest.Server, extra map[string]string) map[string]string {
	vars := map[string]string{
		"GITHUB_APP_ID": strconv.FormatInt(gh.App().ID, 10), "GITHUB_APP_PRIVATE_KEY": string(gh.App().PrivateKeyPEM),
		"GITHUB_API_URL": gh.URL() + "/", "IDENTITY": "diff-hygiene", "MAX_IN_FLIGHT": "2", "RECONCILE_TIMEOUT": "1m",
		"MAX_DELIVERY_ATTEMPTS": "5", "MIN_RETRY_WINDOW": "0", "GITHUB_RETRY_BUDGET": "1s", "LOG_LEVEL": "debug",
	}
	maps.Copy(vars, extra)
	return vars
}

// startApp starts this command's process (hygiene.App, as main does) with the variables vars
// in env, and closes it at the end of the test.
func startApp(t *testing.T, vars map[string]string, env worker.Env) *worker.Process[hygiene.Details] {
	t.Helper()
	env.Lookuper = envconfig.MapLookuper(vars)
	p, err := worker.Start(context.Background(), hygiene.App(), env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}
