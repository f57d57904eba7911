package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/go-github/v60/github"
)

// Limits enforced as GitHub does.
const (
	// MaxOutputBytes is the maximum size of output.summary and output.text, in UTF-8 bytes.
	MaxOutputBytes = 65535
	// MaxAnnotationsPerRequest is the maximum number of annotations in one create or update request.
	MaxAnnotationsPerRequest = 50
	// MaxActions is the maximum number of requested actions of a check run.
	MaxActions = 3
	// MaxAnnotationTitle is the maximum length of an annotation title, in characters.
	MaxAnnotationTitle = 255
)

var (
	createStatuses = []string{"queued", "in_progress", "completed"}
	// Only GitHub Actions may set waiting, requested and pending: an App gets the same answer as for an unknown value.
	appStatuses = []string{"queued", "in_progress", "completed"}
	// stale is in the request enum but "only GitHub can set this": observed 422 lists these seven.
	conclusions      = []string{"success", "failure", "neutral", "cancelled", "timed_out", "action_required", "skipped"}
	annotationLevels = []string{"notice", "warning", "failure"}
)

// runInput is a decoded, schema-valid create or update body.
type runInput struct {
	name, headSHA          *string
	detailsURL, externalID *string
	status, conclusion     *string
	startedAt, completedAt *time.Time
	output                 *outputInput
	actions                []*github.CheckRunAction
	actionsSet             bool
	raw                    map[string]json.RawMessage
}

type outputInput struct {
	title, summary, text *string
	annotations          []*github.CheckRunAnnotation
	images               []*github.CheckRunImage
	imagesSet            bool
}

// schema collects JSON-schema failures, reported as GitHub does: 422 "Invalid request.\n\n<details>".
type schema struct{ details []string }

func (v *schema) add(format string, args ...any) {
	v.details = append(v.details, fmt.Sprintf(format, args...))
}

func (v *schema) required(obj map[string]json.RawMessage, keys ...string) {
	var missing []string
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return
	}
	sort.Strings(missing)
	q := make([]string, len(missing))
	for i, m := range missing {
		q[i] = `"` + m + `"`
	}
	if len(q) == 1 {
		v.add("%s wasn't supplied.", q[0])
	} else {
		v.add("%s weren't supplied.", strings.Join(q, ", "))
	}
}

func (v *schema) str(obj map[string]json.RawMessage, key string) *string {
	raw, ok := obj[key]
	if !ok {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || string(raw) == "null" {
		v.add("For 'properties/%s', %s is not a string.", key, showRaw(raw))
		return nil
	}
	return &s
}

func (v *schema) integer(obj map[string]json.RawMessage, key string) *int {
	raw, ok := obj[key]
	if !ok {
		return nil
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil || string(raw) == "null" {
		v.add("For 'properties/%s', %s is not an integer.", key, showRaw(raw))
		return nil
	}
	return &n
}

func (v *schema) enum(key string, val *string, allowed []string) {
	if val == nil {
		return
	}
	for _, a := range allowed {
		if *val == a {
			return
		}
	}
	q := make([]string, len(allowed))
	for i, a := range allowed {
		q[i] = `"` + a + `"`
	}
	v.add("For 'properties/%s', %q is not a member of [%s].", key, *val, strings.Join(q, ", "))
}

func (v *schema) maxBytes(val *string, max int) {
	if val != nil && len(*val) > max {
		v.add("Only %d characters are allowed; %d were supplied.", max, len(*val))
	}
}

func (v *schema) maxChars(val *string, max int) {
	if val != nil {
		if n := utf8.RuneCountInString(*val); n > max {
			v.add("Only %d characters are allowed; %d were supplied.", max, n)
		}
	}
}

func (v *schema) dateTime(obj map[string]json.RawMessage, key string) *time.Time {
	s := v.str(obj, key)
	if s == nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		v.add("For 'properties/%s', %q is not a date-time.", key, *s)
		return nil
	}
	t = t.UTC().Truncate(time.Second)
	return &t
}

func (v *schema) object(obj map[string]json.RawMessage, key string) map[string]json.RawMessage {
	raw, ok := obj[key]
	if !ok {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		v.add("For 'properties/%s', %s is not an object.", key, showRaw(raw))
		return nil
	}
	return m
}

func (v *schema) array(obj map[string]json.RawMessage, key string, maxItems int) ([]map[string]json.RawMessage, bool) {
	raw, ok := obj[key]
	if !ok {
		return nil, false
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || string(raw) == "null" {
		v.add("For 'properties/%s', %s is not an array.", key, showRaw(raw))
		return nil, false
	}
	if len(items) > maxItems {
		v.add("No more than %d items are allowed; %d were supplied.", maxItems, len(items))
		return nil, false
	}
	out := make([]map[string]json.RawMessage, 0, len(items))
	for _, it := range items {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(it, &m); err != nil || m == nil {
			v.add("For 'items', %s is not an object.", showRaw(it))
			continue
		}
		out = append(out, m)
	}
	return out, true
}

func showRaw(raw json.RawMessage) string {
	if string(raw) == "null" {
		return "nil"
	}
	s := string(raw)
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return s
}

// decodeRunInput validates a create (create=true) or update body against GitHub's schema.
// It returns the input or a 400/422 response.
func decodeRunInput(body []byte, create bool, doc string) (*runInput, *response) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return nil, errorResponse(http.StatusBadRequest, "Problems parsing JSON", doc)
	}
	v := &schema{}
	in := &runInput{raw: obj}
	if create {
		v.required(obj, "name", "head_sha")
	}
	in.name = v.str(obj, "name")
	if create {
		in.headSHA = v.str(obj, "head_sha")
	}
	in.detailsURL = v.str(obj, "details_url")
	in.externalID = v.str(obj, "external_id")
	in.status = v.str(obj, "status")
	if create {
		v.enum("status", in.status, createStatuses)
	} else {
		v.enum("status", in.status, appStatuses)
	}
	in.conclusion = v.str(obj, "conclusion")
	v.enum("conclusion", in.conclusion, conclusions)
	in.startedAt = v.dateTime(obj, "started_at")
	in.completedAt = v.dateTime(obj, "completed_at")
	if out := v.object(obj, "output"); out != nil {
		in.output = decodeOutput(v, out)
	}
	if items, ok := v.array(obj, "actions", MaxActions); ok {
		in.actionsSet = true
		for _, it := range items {
			v.required(it, "label", "description", "identifier")
			a := &github.CheckRunAction{}
			if s := v.str(it, "label"); s != nil {
				v.maxChars(s, 20)
				a.Label = *s
			}
			if s := v.str(it, "description"); s != nil {
				v.maxChars(s, 40)
				a.Description = *s
			}
			if s := v.str(it, "identifier"); s != nil {
				v.maxChars(s, 20)
				a.Identifier = *s
			}
			in.actions = append(in.actions, a)
		}
	}
	if len(v.details) > 0 {
		return nil, errorResponse(http.StatusUnprocessableEntity, "Invalid request.\n\n"+strings.Join(v.details, "\n"), doc)
	}
	// Model validation (shape "Validation Failed").
	if in.name != nil && strings.TrimSpace(*in.name) == "" {
		return nil, validationFailed(doc, github.Error{Resource: "CheckRun", Field: "name", Code: "missing_field"})
	}
	if in.conclusion == nil && ((in.status != nil && *in.status == "completed") || in.completedAt != nil) {
		return nil, validationFailed(doc, github.Error{Resource: "CheckRun", Field: "conclusion", Code: "missing_field"})
	}
	if in.detailsURL != nil && *in.detailsURL != "" {
		if u, err := url.Parse(*in.detailsURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, validationFailed(doc, github.Error{Resource: "CheckRun", Field: "details_url", Code: "custom", Message: "details_url must be a valid http or https URL"})
		}
	}
	if create && in.headSHA != nil && !isSHA(*in.headSHA) {
		return nil, errorResponse(http.StatusUnprocessableEntity, "No commit found for SHA: "+*in.headSHA, doc)
	}
	return in, nil
}

func decodeOutput(v *schema, out map[string]json.RawMessage) *outputInput {
	o := &outputInput{}
	v.required(out, "title", "summary")
	o.title = v.str(out, "title")
	o.summary = v.str(out, "summary")
	o.text = v.str(out, "text")
	v.maxBytes(o.summary, MaxOutputBytes)
	v.maxBytes(o.text, MaxOutputBytes)
	if items, ok := v.array(out, "annotations", MaxAnnotationsPerRequest); ok {
		for _, it := range items {
			v.required(it, "path", "start_line", "end_line", "annotation_level", "message")
			a := &github.CheckRunAnnotation{
				Path:            v.str(it, "path"),
				StartLine:       v.integer(it, "start_line"),
				EndLine:         v.integer(it, "end_line"),
				StartColumn:     v.integer(it, "start_column"),
				EndColumn:       v.integer(it, "end_column"),
				AnnotationLevel: v.str(it, "annotation_level"),
				Message:         v.str(it, "message"),
				Title:           v.str(it, "title"),
				RawDetails:      v.str(it, "raw_details"),
			}
			v.enum("annotation_level", a.AnnotationLevel, annotationLevels)
			v.maxChars(a.Title, MaxAnnotationTitle)
			v.maxBytes(a.Message, 64*1024)
			v.maxBytes(a.RawDetails, 64*1024)
			o.annotations = append(o.annotations, a)
		}
	}
	if items, ok := v.array(out, "images", 1000); ok {
		o.imagesSet = true
		for _, it := range items {
			v.required(it, "alt", "image_url")
			o.images = append(o.images, &github.CheckRunImage{Alt: v.str(it, "alt"), ImageURL: v.str(it, "image_url"), Caption: v.str(it, "caption")})
		}
	}
	return o
}

func validationFailed(doc string, errs ...github.Error) *response {
	items := make([]errorItem, len(errs))
	for i, e := range errs {
		items[i] = errorItem{Resource: e.Resource, Code: e.Code, Field: e.Field, Message: e.Message}
	}
	return jsonResponse(http.StatusUnprocessableEntity, apiError{Message: "Validation Failed", Errors: items, DocumentationURL: doc, Status: "422"})
}

func isSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
