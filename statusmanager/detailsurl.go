package statusmanager

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/prreconciler/prreconciler/events"
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

// DetailsURL returns the Logs Explorer link of LogQuery in project. The query is escaped with
// url.QueryEscape and '+' replaced by %20: the console reads it from a matrix parameter of
// the path, where a raw ';' or '/' would cut it and '+' is not a space.
func DetailsURL(project, service string, res *events.Resource, sha string) string {
	q := strings.ReplaceAll(url.QueryEscape(LogQuery(service, res, sha)), "+", "%20")
	return "https://console.cloud.google.com/logs/query;query=" + q +
		";storageScope=project;duration=P2D?project=" + url.QueryEscape(project)
}
