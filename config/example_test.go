package config_test

import (
	"context"
	"fmt"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/prreconciler/prreconciler/config"
)

// Load reads the environment (here a map) and names every problem at once.
func ExampleLoad() {
	env := envconfig.MapLookuper(map[string]string{
		"GITHUB_APP_ID":               "4242",
		"GITHUB_APP_PRIVATE_KEY_FILE": "/secrets/app.pem",
		"IDENTITY":                    "diff-hygiene",
		"PUBSUB_SUBSCRIPTION":         "projects/my-proj/subscriptions/github-events",
	})
	cfg, err := config.Load(context.Background(), env)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.Identity, cfg.Pull(), cfg.SubscriptionName(), cfg.MaxInFlight, cfg.ReconcileTimeout)

	_, err = config.Load(context.Background(), envconfig.MapLookuper(map[string]string{"MAX_IN_FLIGHT": "0"}))
	fmt.Println(err)
	// Output:
	// diff-hygiene true projects/my-proj/subscriptions/github-events 10 5m0s
	// config: GITHUB_APP_ID: is required and must be a positive App id
	// GITHUB_APP_PRIVATE_KEY: is required (or GITHUB_APP_PRIVATE_KEY_FILE)
	// IDENTITY: is required (the check run name)
	// MAX_IN_FLIGHT: must be at least 1
}

// Variables lists what the worker reads, for documentation and deployment checks.
func ExampleVariables() {
	for _, v := range config.Variables()[:4] {
		fmt.Printf("%s required=%v default=%q\n", v.Name, v.Required, v.Default)
	}
	// Output:
	// MODE required=false default="worker"
	// GITHUB_APP_ID required=true default=""
	// GITHUB_APP_PRIVATE_KEY required=false default=""
	// GITHUB_APP_PRIVATE_KEY_FILE required=false default=""
}

// RetryWindow is how long a never-acked message is redelivered before it is dead-lettered.
func ExampleRetryWindow() {
	for _, attempts := range []int{5, 10, 15} {
		fmt.Println(attempts, config.RetryWindow(10*time.Second, 600*time.Second, attempts))
	}
	// Output:
	// 5 2m30s
	// 10 40m30s
	// 15 1h30m30s
}

func ExampleParseLogLevel() {
	for _, s := range []string{"debug", "INFO", "warning", "error", "verbose"} {
		l, err := config.ParseLogLevel(s)
		fmt.Println(l, err)
	}
	// Output:
	// DEBUG <nil>
	// INFO <nil>
	// WARN <nil>
	// ERROR <nil>
	// INFO "verbose" is not debug, info, warn or error
}

// A reconciler's own settings are a go-envconfig struct of its own, read from the same
// environment as the worker's with Process and documented with VariablesOf.
func ExampleProcess() {
	type policy struct {
		MaxLines int    `env:"PRSIZE_MAX_LINES, default=400" desc:"pull requests above this many changed lines are flagged"`
		Label    string `env:"PRSIZE_LABEL" desc:"a label that exempts a pull request"`
	}
	var p policy
	err := config.Process(context.Background(), envconfig.MapLookuper(map[string]string{"PRSIZE_LABEL": "big-on-purpose"}), &p)
	fmt.Println(p.MaxLines, p.Label, err)
	var bad policy
	err = config.Process(context.Background(), envconfig.MapLookuper(map[string]string{"PRSIZE_MAX_LINES": "many"}), &bad)
	fmt.Println(err)
	for _, v := range config.VariablesOf(policy{}) {
		fmt.Printf("%s (default %q): %s\n", v.Name, v.Default, v.Description)
	}
	// Output:
	// 400 big-on-purpose <nil>
	// PRSIZE_MAX_LINES: "many" is not a whole number
	// PRSIZE_MAX_LINES (default "400"): pull requests above this many changed lines are flagged
	// PRSIZE_LABEL (default ""): a label that exempts a pull request
}

// MarkdownTable renders a configuration table for documentation (docs/configuration.md).
func ExampleMarkdownTable() {
	type own struct {
		Policy string `env:"POLICY_FILE, required" required:"true" desc:"the policy to apply"`
		Limit  int    `env:"POLICY_LIMIT, default=10" desc:"findings reported at most"`
	}
	fmt.Print(config.MarkdownTable(config.VariablesOf(own{})))
	// Output:
	// | variable | default | meaning |
	// |---|---|---|
	// | `POLICY_FILE` | required | the policy to apply |
	// | `POLICY_LIMIT` | `10` | findings reported at most |
}
