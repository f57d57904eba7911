package statusmanager

import (
	"bytes"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/prreconciler/prreconciler/events"
)

// The details link's time window: from DetailsWindowBefore before the run started to
// DetailsWindowAfter after the write that sets it. The link is written again by every write,
// the completing one last, so a completed run's link ends a margin after it completed and keeps
// selecting its records for as long as they are kept (a relative duration such as P2D would
// open an empty page two days later). The margin after also covers a write that is not the
// last: an attempt ends within its ack deadline (at most ten minutes), well inside it, and log
// ingestion may lag the write.
const (
	DetailsWindowBefore = 5 * time.Minute
	DetailsWindowAfter  = 30 * time.Minute
)

// LogQuery returns the Cloud Logging query that selects the worker's records of one PR at
// one SHA: the Cloud Run service's logs (when service is known) and the labels the worker
// writes (LogLabelPRURL and LogLabelSHA).
func LogQuery(service string, res *events.Resource, sha string) string {
	var terms []string
	if service != "" {
		terms = append(terms, `resource.type="cloud_run_revision"`, "resource.labels.service_name="+strconv.Quote(service))
	}
	terms = append(terms,
		"labels."+LogLabelPRURL+"="+strconv.Quote(res.URL),
		"labels."+LogLabelSHA+"="+strconv.Quote(sha))
	return strings.Join(terms, "\n")
}

// DetailsURL returns the Logs Explorer link of LogQuery in project, without a time window (the
// console then shows its default, recent, range). Check runs carry DetailsURLWindow's link.
func DetailsURL(project, service string, res *events.Resource, sha string) string {
	return logsExplorer(project, service, res, sha, "")
}

// DetailsURLWindow returns the Logs Explorer link of LogQuery in project, restricted to the
// records from start to end (the matrix parameter timeRange=START/END, RFC 3339 in UTC).
func DetailsURLWindow(project, service string, res *events.Resource, sha string, start, end time.Time) string {
	return logsExplorer(project, service, res, sha, ";timeRange="+
		url.QueryEscape(start.UTC().Format(time.RFC3339)+"/"+end.UTC().Format(time.RFC3339)))
}

// logsExplorer escapes the query with url.QueryEscape and replaces '+' by %20: the console
// reads it from a matrix parameter of the path, where a raw ';' or '/' would cut it and '+' is
// not a space.
func logsExplorer(project, service string, res *events.Resource, sha, window string) string {
	q := strings.ReplaceAll(url.QueryEscape(LogQuery(service, res, sha)), "+", "%20")
	return "https://console.cloud.google.com/logs/query;query=" + q +
		";storageScope=project" + window + "?project=" + url.QueryEscape(project)
}

// DetailsLink is what a details link template (WithDetailsURLTemplate) is executed with: the
// labels the worker writes on every record of a request, and the run's time window.
type DetailsLink struct {
	// Project and Service are the Google Cloud project and Cloud Run service ("" when unknown).
	Project, Service string
	// Identity is the check run name.
	Identity string
	// Owner, Repo and Number name the pull request; PRURL is its web URL (the pr_url label).
	Owner, Repo string
	Number      int
	PRURL       string
	// SHA is the commit (the sha label).
	SHA string
	// Query is LogQuery's Cloud Logging query of these labels.
	Query string
	// Start and End are the run's time window (see DetailsWindowBefore).
	Start, End time.Time
}

// detailsFuncs are the functions a details link template may call besides text/template's
// own (urlquery among them).
func detailsFuncs() template.FuncMap {
	return template.FuncMap{
		"queryescape": url.QueryEscape,
		"pathescape":  url.PathEscape,
		"rfc3339":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"unixmilli":   func(t time.Time) int64 { return t.UnixMilli() },
	}
}

// parseDetailsTemplate parses tmpl and executes it once on sample values, so a template that
// fails on every run is refused when the manager is made, not discovered on GitHub.
func parseDetailsTemplate(tmpl string) (*template.Template, error) {
	t, err := template.New("details").Option("missingkey=error").Funcs(detailsFuncs()).Parse(tmpl)
	if err != nil {
		return nil, fmt.Errorf("statusmanager: details URL template: %w", err)
	}
	now := time.Now()
	sample := DetailsLink{Project: "p", Service: "s", Identity: "i", Owner: "o", Repo: "r", Number: 1,
		PRURL: "https://github.com/o/r/pull/1", SHA: strings.Repeat("0", 40), Query: "q", Start: now, End: now}
	if _, err := executeDetails(t, sample); err != nil {
		return nil, err
	}
	return t, nil
}

func executeDetails(t *template.Template, link DetailsLink) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, link); err != nil {
		return "", fmt.Errorf("statusmanager: details URL template: %w", err)
	}
	return strings.TrimSpace(b.String()), nil
}
