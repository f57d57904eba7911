package worker

import (
	"io"
	"os"

	"github.com/sethvargo/go-envconfig"
	"google.golang.org/api/option"

	"github.com/prreconciler/prreconciler/cloudlog"
)

// Env is what a process takes from outside: its arguments, its environment variables and
// where it writes. The zero Env, with Args set, is the operating system's. Tests and the
// local run give their own.
type Env struct {
	// Args are the command-line arguments after the program's name.
	Args []string
	// Name is the program's name in usage texts. "" means "BINARY".
	Name string
	// Lookuper gives the environment variables. nil means the process environment.
	Lookuper envconfig.Lookuper
	// Stdout receives the log records written as JSON lines. nil means os.Stdout.
	Stdout io.Writer
	// Cloud is where LOG_DESTINATION=auto looks for Cloud Run, GKE and credentials. The
	// project is also found there when GOOGLE_CLOUD_PROJECT is not set (the metadata
	// server, on Cloud Run). A nil Cloud.Getenv means cloudlog.OSEnv reading the variables
	// of Lookuper.
	Cloud cloudlog.Env
	// PubSubOptions are passed to the Pub/Sub client, for example to reach an in-process
	// Pub/Sub.
	PubSubOptions []option.ClientOption
	// LoggingOptions are passed to the Cloud Logging client, for example to reach a fake
	// API.
	LoggingOptions []option.ClientOption
}

func (e Env) name() string {
	if e.Name == "" {
		return "BINARY"
	}
	return e.Name
}

func (e Env) lookuper() envconfig.Lookuper {
	if e.Lookuper == nil {
		return envconfig.OsLookuper()
	}
	return e.Lookuper
}

func (e Env) getenv() func(string) string {
	l := e.lookuper()
	return func(k string) string {
		v, _ := l.Lookup(k)
		return v
	}
}

func (e Env) stdout() io.Writer {
	if e.Stdout == nil {
		return os.Stdout
	}
	return e.Stdout
}

func (e Env) cloud() cloudlog.Env {
	if e.Cloud.Getenv == nil {
		return cloudlog.OSEnv(e.getenv())
	}
	return e.Cloud
}
