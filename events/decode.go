package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// DefaultTypePrefix is the CloudEvents type prefix of the webhook relay: a GitHub event E
// arrives with the attribute ce-type = DefaultTypePrefix + "." + E.
const DefaultTypePrefix = "dev.chainguard.github"

// DefaultMaxBytes is the largest message data a Decoder accepts unless told otherwise:
// 10 MiB, Pub/Sub's own limit on a message.
const DefaultMaxBytes = 10 << 20

// ErrInvalidMessage matches (with errors.Is) every error Decode returns: the message is
// malformed or invalid, and delivering it again cannot change that.
var ErrInvalidMessage = errors.New("invalid message")

// Message is a Pub/Sub message as either transport (push or pull) sees it.
type Message struct {
	// ID is the Pub/Sub message id.
	ID string
	// Data is the message payload.
	Data []byte
	// Attributes are the message attributes. Keys are matched exactly first, then without
	// regard to case (a push without wrapper canonicalises them as HTTP header names).
	Attributes map[string]string
	// DeliveryAttempt counts deliveries of this message, 0 when unknown.
	DeliveryAttempt int
	// PublishTime is when the message was published.
	PublishTime time.Time
	// OrderingKey is the message's Pub/Sub ordering key, when the transport says (pull does;
	// a push says only in production, and only in the wrapped envelope).
	OrderingKey string
}

// Result is what a message asks for: the requests to reconcile, or, when there are none,
// why the message was ignored.
type Result struct {
	// Requests are the reconciles the message asks for; every one passes Request.Validate.
	Requests []Request
	// Ignored says why a valid message asks for nothing (an event or action we do not
	// reconcile, a check run of another app...). It is empty when Requests is not.
	Ignored string
}

// InvalidMessageError reports a message that can never be decoded: which field is wrong and
// why. It matches ErrInvalidMessage with errors.Is, and unwraps to the underlying error (a
// *FieldError for a failed validation, a JSON error for malformed data) when there is one.
type InvalidMessageError struct {
	// MessageID is the Pub/Sub message id, when known.
	MessageID string
	// Field names the offending field as a JSON path into the data ("sha",
	// "body.pull_request.head.sha"), "attributes.<name>" for an attribute, or "data" for the
	// data as a whole.
	Field string
	// Reason says what is wrong with the field.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

// Error returns e.g. "invalid message 17: field sha: has 39 characters; a commit SHA has 40 hex digits".
func (e *InvalidMessageError) Error() string {
	var b strings.Builder
	b.WriteString("invalid message")
	if e.MessageID != "" {
		b.WriteString(" ")
		b.WriteString(e.MessageID)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString("field ")
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Is reports whether target is ErrInvalidMessage.
func (e *InvalidMessageError) Is(target error) bool { return target == ErrInvalidMessage }

// Unwrap returns the underlying error.
func (e *InvalidMessageError) Unwrap() error { return e.Err }

// Decoder turns Pub/Sub messages into requests. Its zero value works: the default relay type
// prefix, no filter on the App id or the check run name, and the default size limit.
type Decoder struct {
	// TypePrefix is the CloudEvents type prefix of the webhook relay; "" means
	// DefaultTypePrefix.
	TypePrefix string
	// AppID is our GitHub App id: check_run (and check_suite) events about runs (suites) of
	// another app are ignored. 0 accepts any app.
	AppID int64
	// Identity is our check run name: check_run events about runs of another name are
	// ignored. "" accepts any name.
	Identity string
	// MaxBytes is the largest Data accepted; 0 (or less) means DefaultMaxBytes.
	MaxBytes int
	// PullRequestActions are pull_request actions, beyond DefaultPullRequestActions(), that ask
	// for a fresh run at the pull request's head commit (a request with Rerun set), for
	// reconcilers that check the pull request's metadata: "edited" for its title, "labeled"
	// and "unlabeled" for its labels. Such an action on a closed pull request is ignored.
	// See ValidatePullRequestActions.
	PullRequestActions []string
}

// DefaultPullRequestActions returns the pull_request actions that always ask for a reconcile
// of the head commit: the ones that change it, or the pull request's readiness.
func DefaultPullRequestActions() []string { return slices.Clone(defaultPullRequestActions) }

var defaultPullRequestActions = []string{"opened", "reopened", "synchronize", "ready_for_review"}

// pullRequestActions are the actions GitHub sends with a pull_request event.
var pullRequestActions = []string{"assigned", "auto_merge_disabled", "auto_merge_enabled", "closed",
	"converted_to_draft", "demilestoned", "dequeued", "edited", "enqueued", "labeled", "locked", "milestoned",
	"opened", "ready_for_review", "reopened", "review_request_removed", "review_requested", "synchronize",
	"unassigned", "unlabeled", "unlocked"}

// ValidatePullRequestActions checks Decoder.PullRequestActions: each must be an action GitHub
// sends with a pull_request event, not one of DefaultPullRequestActions(), and listed once.
func ValidatePullRequestActions(actions []string) error {
	var errs []error
	seen := map[string]bool{}
	for _, a := range actions {
		switch {
		case slices.Contains(defaultPullRequestActions, a):
			errs = append(errs, fmt.Errorf("pull_request action %s is reconciled already (one of %s)", quote(a), strings.Join(defaultPullRequestActions, ", ")))
		case !slices.Contains(pullRequestActions, a):
			errs = append(errs, fmt.Errorf("%s is not a pull_request action GitHub sends (%s)", quote(a), strings.Join(pullRequestActions, ", ")))
		case seen[a]:
			errs = append(errs, fmt.Errorf("pull_request action %s is listed twice", quote(a)))
		}
		seen[a] = true
	}
	return errors.Join(errs...)
}

// Decode returns the requests a message asks for. It never panics, gives the same answer for
// the same message, and every request it returns passes Request.Validate.
//
// A message without the attribute ce-type is a reconcile request in JSON:
//
//	{"owner":"octo-org","repo":"hello-world","url":"https://github.com/octo-org/hello-world/pull/7",
//	 "sha":"6dcb09b5b57875f334f61aebed695e2e4193db5e","installationId":42,"rerun":false}
//
// installationId, rerun, deliveryId, baseSha, changedFiles and trigger are optional; any other
// field is refused. The pull request's number comes from the URL.
//
// A message with ce-type is a GitHub webhook event as the relay publishes it: ce-type is
// "<prefix>.<event>" and the data is {"when":…, "headers":{"event":…, "delivery_id":…},
// "body":<webhook payload>}. The attributes ce-subject, ce-action and ce-pullrequesturl, when
// present, must agree with the payload; every URL, and so the GitHub host, is taken from the
// payload. The delivery id is ce-id, else headers.delivery_id, else the message id. The events
// that give requests:
//
//   - pull_request opened, reopened, synchronize and ready_for_review: a request at the head
//     commit; the Decoder's PullRequestActions: the same, as a rerun;
//   - check_run rerequested and requested_action of a run of ours: a rerun at its head commit
//     for each pull request it lists, or the one its external_id names (see RunRef);
//   - check_suite rerequested: a rerun at its head commit for each pull request it lists.
//
// Each carries its Trigger, "event.action", and the base commit and number of changed files
// when the payload has them. Everything else is ignored: a result with no requests and a
// non-empty Ignored says why.
//
// A message that is malformed or invalid, or larger than MaxBytes, gives an
// *InvalidMessageError that names the field and the reason. It matches ErrInvalidMessage and
// is permanent.
func (d *Decoder) Decode(m *Message) (Result, error) {
	if m == nil {
		return Result{}, &InvalidMessageError{Field: "message", Reason: "is nil"}
	}
	dec := decoding{d: d, m: m}
	if d == nil {
		dec.d = &Decoder{}
	}
	return dec.decode()
}

// decoding is the state of one Decode call.
type decoding struct {
	d *Decoder
	m *Message
}

func (c *decoding) invalid(field, reason string, err error) error {
	return &InvalidMessageError{MessageID: c.m.ID, Field: field, Reason: reason, Err: err}
}

func (c *decoding) maxBytes() int {
	if c.d.MaxBytes > 0 {
		return c.d.MaxBytes
	}
	return DefaultMaxBytes
}

func (c *decoding) typePrefix() string {
	p := strings.TrimSuffix(c.d.TypePrefix, ".")
	if p == "" {
		return DefaultTypePrefix
	}
	return p
}

// attr returns the attribute named key: the exact key if present, else the one key that
// matches without regard to case. Two keys differing only in case with different values are
// an error (no map order may decide).
func (c *decoding) attr(key string) (string, bool, error) {
	if v, ok := c.m.Attributes[key]; ok {
		return v, true, nil
	}
	var keys []string
	for k := range c.m.Attributes {
		if strings.EqualFold(k, key) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "", false, nil
	}
	sort.Strings(keys)
	v := c.m.Attributes[keys[0]]
	for _, k := range keys[1:] {
		if c.m.Attributes[k] != v {
			return "", false, c.invalid("attributes."+key, fmt.Sprintf("is given as %s and %s with different values",
				quote(keys[0]), quote(k)), nil)
		}
	}
	return v, true, nil
}

func (c *decoding) decode() (Result, error) {
	ceType, isEvent, err := c.attr("ce-type")
	if err != nil {
		return Result{}, err
	}
	if n := len(c.m.Data); n > c.maxBytes() {
		return Result{}, c.invalid("data", fmt.Sprintf("is %d bytes; the limit is %d", n, c.maxBytes()), nil)
	}
	if isEvent {
		return c.decodeEvent(ceType)
	}
	return c.decodeRequest()
}

// requestJSON is the reconcile request contract. Pointers tell a missing field from an empty one.
type requestJSON struct {
	Owner          *string `json:"owner"`
	Repo           *string `json:"repo"`
	URL            *string `json:"url"`
	SHA            *string `json:"sha"`
	InstallationID *int64  `json:"installationId"`
	Rerun          *bool   `json:"rerun"`
	DeliveryID     *string `json:"deliveryId"`
	BaseSHA        *string `json:"baseSha"`
	ChangedFiles   *int    `json:"changedFiles"`
	Trigger        *string `json:"trigger"`
}

func (c *decoding) decodeRequest() (Result, error) {
	var rj requestJSON
	if err := c.unmarshal("", c.m.Data, &rj, true); err != nil {
		return Result{}, err
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"owner", rj.Owner}, {"repo", rj.Repo}, {"url", rj.URL}, {"sha", rj.SHA}} {
		if f.v == nil {
			return Result{}, c.invalid(f.name, "is missing", nil)
		}
	}
	req := Request{
		Resource:   Resource{Owner: *rj.Owner, Repo: *rj.Repo, URL: *rj.URL},
		SHA:        *rj.SHA,
		DeliveryID: c.m.ID,
	}
	if rj.InstallationID != nil {
		req.InstallationID = *rj.InstallationID
	}
	if rj.Rerun != nil {
		req.Rerun = *rj.Rerun
	}
	if rj.DeliveryID != nil && *rj.DeliveryID != "" {
		// Forwarded by the intake stage: the GitHub delivery the request came from.
		if len(*rj.DeliveryID) > maxDeliveryIDBytes {
			return Result{}, c.invalid("deliveryId", fmt.Sprintf("is %d bytes; at most %d", len(*rj.DeliveryID), maxDeliveryIDBytes), nil)
		}
		req.DeliveryID = *rj.DeliveryID
	}
	if rj.BaseSHA != nil {
		req.BaseSHA = *rj.BaseSHA
	}
	if rj.ChangedFiles != nil {
		req.ChangedFiles = *rj.ChangedFiles
	}
	if rj.Trigger != nil {
		req.Trigger = *rj.Trigger
	}
	if err := c.validate(&req, nil); err != nil {
		return Result{}, err
	}
	return Result{Requests: []Request{req}}, nil
}

// validate runs Request.Validate and turns its *FieldError into an *InvalidMessageError,
// naming the field by its path in the message (paths maps FieldError.Field to it).
func (c *decoding) validate(r *Request, paths map[string]string) error {
	err := r.Validate()
	if err == nil {
		return nil
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		return c.invalid("data", err.Error(), err)
	}
	field := fe.Field
	if p, ok := paths[field]; ok {
		field = p
	}
	return c.invalid(field, fe.Reason, fe)
}

// unmarshal decodes one JSON value from data into v, which must be all the data. prefix is
// the JSON path of data in the message ("" for the whole data, else e.g. "body").
func (c *decoding) unmarshal(prefix string, data []byte, v any, strict bool) error {
	where := prefix
	if where == "" {
		where = "data"
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return c.invalid(where, "is empty", nil)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return c.jsonError(prefix, where, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return c.invalid(where, "has more data after its JSON value", err)
	}
	return nil
}

// jsonError describes a decoding error of encoding/json with the field it is about.
func (c *decoding) jsonError(prefix, where string, err error) error {
	join := func(field string) string {
		if prefix == "" {
			return field
		}
		return prefix + "." + field
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return c.invalid(where, fmt.Sprintf("is not valid JSON: %v (at byte %d)", syn, syn.Offset), err)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return c.invalid(where, "is not valid JSON: unexpected end of data", err)
	case errors.As(err, &typ):
		field := where
		if typ.Field != "" {
			field = join(typ.Field)
		}
		return c.invalid(field, fmt.Sprintf("is a JSON %s, want %s", typ.Value, kindName(typ.Type)), err)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if n, uerr := strconv.Unquote(name); uerr == nil {
			name = n
		}
		return c.invalid(join(fieldName(name)), "is not a field of a reconcile request", err)
	}
	return c.invalid(where, "is not valid JSON: "+err.Error(), err)
}

// fieldName is a JSON key as a segment of a field path: quoted when it is empty or would be
// unreadable or ambiguous in a path (a non-printable character, a space, a quote, '.', '[' or
// ']'), so that an error always names its field visibly.
func fieldName(key string) string {
	if key == "" || strings.IndexFunc(key, func(r rune) bool {
		return !unicode.IsPrint(r) || unicode.IsSpace(r) || strings.ContainsRune(`".[]`, r)
	}) >= 0 {
		return strconv.Quote(key)
	}
	return key
}

// kindName names a Go type as the JSON it wants.
func kindName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "another type"
}

// quote quotes a value from the message for an error or a reason, cut to a readable length.
func quote(s string) string {
	const max = 100
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}

// The webhook relay's data: the time of the delivery, the GitHub headers, the payload.
type relayData struct {
	When    json.RawMessage `json:"when"`
	Headers *relayHeaders   `json:"headers"`
	Body    json.RawMessage `json:"body"`
}

type relayHeaders struct {
	Event      string `json:"event"`
	DeliveryID string `json:"delivery_id"`
}

// The few webhook payload fields we need; everything else is left alone, so that payloads
// go-github refuses (non-RFC 3339 timestamps) decode as well.
type whOwner struct {
	Login string `json:"login"`
}

type whRepository struct {
	ID       int64    `json:"id"`
	Name     string   `json:"name"`
	FullName string   `json:"full_name"`
	HTMLURL  string   `json:"html_url"`
	Owner    *whOwner `json:"owner"`
}

type whInstallation struct {
	ID int64 `json:"id"`
}

type whApp struct {
	ID int64 `json:"id"`
}

type whCommit struct {
	SHA string `json:"sha"`
}

type whPullRequest struct {
	Number  int       `json:"number"`
	HTMLURL string    `json:"html_url"`
	State   string    `json:"state"`
	Head    *whCommit `json:"head"`
	Base    *whCommit `json:"base"`
	// ChangedFiles is a pointer so that a payload without it (0 would mean "no change") is
	// told from one that says 0.
	ChangedFiles *int `json:"changed_files"`
}

// whPRRef is an entry of check_run.pull_requests or check_suite.pull_requests. Its url is
// the API URL, not the web URL.
type whPRRef struct {
	Number int `json:"number"`
	Base   struct {
		SHA  string `json:"sha"`
		Repo struct {
			ID int64 `json:"id"`
		} `json:"repo"`
	} `json:"base"`
}

type whCheck struct {
	Name         string    `json:"name"`
	HeadSHA      string    `json:"head_sha"`
	ExternalID   string    `json:"external_id"`
	App          *whApp    `json:"app"`
	PullRequests []whPRRef `json:"pull_requests"`
}

type whCommon struct {
	Action       *string         `json:"action"`
	Repository   *whRepository   `json:"repository"`
	Installation *whInstallation `json:"installation"`
}

func (c *decoding) decodeEvent(ceType string) (Result, error) {
	if ceType == "" {
		return Result{}, c.invalid("attributes.ce-type", "is empty", nil)
	}
	prefix := c.typePrefix()
	event, ok := strings.CutPrefix(ceType, prefix+".")
	if !ok {
		return Result{Ignored: fmt.Sprintf("type %s is not from the relay prefix %s", quote(ceType), quote(prefix))}, nil
	}
	if event == "" {
		return Result{}, c.invalid("attributes.ce-type", fmt.Sprintf("%s names no event after the prefix", quote(ceType)), nil)
	}
	switch event {
	case "pull_request", "check_run", "check_suite":
	default:
		return Result{Ignored: fmt.Sprintf("event %s is not one we reconcile", quote(event))}, nil
	}

	var rd relayData
	if err := c.unmarshal("", c.m.Data, &rd, false); err != nil {
		return Result{}, err
	}
	if rd.Headers != nil && rd.Headers.Event != "" && rd.Headers.Event != event {
		return Result{}, c.invalid("headers.event", fmt.Sprintf("is %s but ce-type names the event %s",
			quote(rd.Headers.Event), quote(event)), nil)
	}
	if len(rd.Body) == 0 || string(rd.Body) == "null" {
		return Result{}, c.invalid("body", "is missing", nil)
	}
	var common whCommon
	if err := c.unmarshal("body", rd.Body, &common, false); err != nil {
		return Result{}, err
	}
	if common.Action == nil {
		return Result{}, c.invalid("body.action", "is missing", nil)
	}
	action := *common.Action
	if ceAction, ok, err := c.attr("ce-action"); err != nil {
		return Result{}, err
	} else if ok && ceAction != action {
		return Result{}, c.invalid("attributes.ce-action", fmt.Sprintf("is %s but the payload's action is %s",
			quote(ceAction), quote(action)), nil)
	}
	repo := common.Repository
	if subject, ok, err := c.attr("ce-subject"); err != nil {
		return Result{}, err
	} else if ok {
		if repo == nil {
			return Result{}, c.invalid("body.repository", fmt.Sprintf("is missing (ce-subject is %s)", quote(subject)), nil)
		}
		if name := repo.fullName(); !strings.EqualFold(subject, name) {
			return Result{}, c.invalid("attributes.ce-subject", fmt.Sprintf("is %s but the payload's repository is %s",
				quote(subject), quote(name)), nil)
		}
	}

	deliveryID, _, err := c.attr("ce-id")
	if err != nil {
		return Result{}, err
	}
	if deliveryID == "" && rd.Headers != nil {
		deliveryID = rd.Headers.DeliveryID
	}
	if deliveryID == "" {
		deliveryID = c.m.ID
	}
	ev := webhookEvent{c: c, event: event, action: action, body: rd.Body, common: common, deliveryID: deliveryID}
	var res Result
	switch event {
	case "pull_request":
		res, err = ev.pullRequest()
	case "check_run":
		res, err = ev.checkRun()
	default:
		res, err = ev.checkSuite()
	}
	for i := range res.Requests {
		res.Requests[i].Trigger = event + "." + action
	}
	return res, err
}

// fullName is owner/name of the repository, from owner.login and name when both are given.
func (r *whRepository) fullName() string {
	if r.Owner != nil && r.Owner.Login != "" && r.Name != "" {
		return r.Owner.Login + "/" + r.Name
	}
	return r.FullName
}

// webhookEvent is a relay event of a kind we reconcile, attributes already checked.
type webhookEvent struct {
	c          *decoding
	event      string
	action     string
	body       json.RawMessage
	common     whCommon
	deliveryID string
}

func (e *webhookEvent) ignoredAction() Result {
	return Result{Ignored: fmt.Sprintf("%s action %s is not one we reconcile", e.event, quote(e.action))}
}

// repository returns the payload's repository with its owner, or an error naming what is missing.
func (e *webhookEvent) repository() (*whRepository, error) {
	r := e.common.Repository
	switch {
	case r == nil:
		return nil, e.c.invalid("body.repository", "is missing", nil)
	case r.Owner == nil:
		return nil, e.c.invalid("body.repository.owner", "is missing", nil)
	}
	return r, nil
}

func (e *webhookEvent) installationID() int64 {
	if e.common.Installation == nil {
		return 0
	}
	return e.common.Installation.ID
}

func (e *webhookEvent) pullRequest() (Result, error) {
	rerun := false
	switch {
	case slices.Contains(defaultPullRequestActions, e.action):
	case slices.Contains(e.c.d.PullRequestActions, e.action):
		// A change of the pull request's metadata, not of its code: the head commit was
		// probably reconciled already, and only a fresh run looks at it again.
		rerun = true
	default:
		return e.ignoredAction(), nil
	}
	var p struct {
		PullRequest *whPullRequest `json:"pull_request"`
	}
	if err := e.c.unmarshal("body", e.body, &p, false); err != nil {
		return Result{}, err
	}
	repo, err := e.repository()
	if err != nil {
		return Result{}, err
	}
	pr := p.PullRequest
	switch {
	case pr == nil:
		return Result{}, e.c.invalid("body.pull_request", "is missing", nil)
	case pr.Head == nil:
		return Result{}, e.c.invalid("body.pull_request.head", "is missing", nil)
	case pr.Number < 1:
		return Result{}, e.c.invalid("body.pull_request.number", fmt.Sprintf("is %d; a pull request number is at least 1", pr.Number), nil)
	}
	if err := e.checkPullRequestURL(pr); err != nil {
		return Result{}, err
	}
	if rerun && pr.State == "closed" {
		return Result{Ignored: fmt.Sprintf("pull_request %s of a closed pull request: nothing to reconcile", quote(e.action))}, nil
	}
	req := Request{
		Resource:       Resource{Owner: repo.Owner.Login, Repo: repo.Name, Number: pr.Number, URL: pr.HTMLURL},
		SHA:            pr.Head.SHA,
		InstallationID: e.installationID(),
		Rerun:          rerun,
		DeliveryID:     e.deliveryID,
	}
	if pr.Base != nil {
		req.BaseSHA = pr.Base.SHA
	}
	if pr.ChangedFiles != nil {
		req.ChangedFiles = *pr.ChangedFiles
	}
	if err := e.c.validate(&req, map[string]string{
		"owner":          "body.repository.owner.login",
		"repo":           "body.repository.name",
		"url":            "body.pull_request.html_url",
		"number":         "body.pull_request.number",
		"sha":            "body.pull_request.head.sha",
		"baseSha":        "body.pull_request.base.sha",
		"changedFiles":   "body.pull_request.changed_files",
		"installationId": "body.installation.id",
	}); err != nil {
		return Result{}, err
	}
	return Result{Requests: []Request{req}}, nil
}

// checkPullRequestURL compares the attribute ce-pullrequesturl, when given, with the payload's
// pull request by owner, repository and number only. The relay builds the attribute as
// https://github.com/<owner>/<repo>/pull/<n> whatever the GitHub host, so on GitHub Enterprise
// its host is wrong by construction; the request's URL (and so its host) always comes from
// the payload, never from the attribute.
func (e *webhookEvent) checkPullRequestURL(pr *whPullRequest) error {
	prURL, ok, err := e.c.attr("ce-pullrequesturl")
	if err != nil || !ok || prURL == "" {
		return err
	}
	const field = "attributes.ce-pullrequesturl"
	owner, repo, number, err := splitPRURL(prURL)
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return e.c.invalid(field, fe.Reason, err)
		}
		return e.c.invalid(field, err.Error(), err)
	}
	pOwner, pRepo, pNumber, perr := splitPRURL(pr.HTMLURL)
	if perr != nil {
		// The payload's own URL is refused, with its field, by the validation that follows.
		return nil
	}
	if !strings.EqualFold(owner, pOwner) || !strings.EqualFold(repo, pRepo) || number != pNumber {
		return e.c.invalid(field, fmt.Sprintf("is %s but the payload's pull request is %s (owner, repository and number are compared, not the host)",
			quote(prURL), quote(pr.HTMLURL)), nil)
	}
	return nil
}

func (e *webhookEvent) checkRun() (Result, error) {
	switch e.action {
	case "rerequested", "requested_action":
	default:
		return e.ignoredAction(), nil
	}
	var p struct {
		CheckRun *whCheck `json:"check_run"`
	}
	if err := e.c.unmarshal("body", e.body, &p, false); err != nil {
		return Result{}, err
	}
	run := p.CheckRun
	if run == nil {
		return Result{}, e.c.invalid("body.check_run", "is missing", nil)
	}
	d := e.c.d
	if d.AppID != 0 {
		var app int64
		if run.App != nil {
			app = run.App.ID
		}
		if app != d.AppID {
			return Result{Ignored: fmt.Sprintf("check run %s belongs to app %d, not to ours (%d)", quote(run.Name), app, d.AppID)}, nil
		}
	}
	if d.Identity != "" && run.Name != d.Identity {
		return Result{Ignored: fmt.Sprintf("check run %s is not ours (%s)", quote(run.Name), quote(d.Identity))}, nil
	}
	if len(run.PullRequests) == 0 && d.AppID != 0 {
		// GitHub lists no pull requests on the runs of a fork's pull request; the run's
		// external_id, written by our App only (the app was checked above), names it.
		if ref := ParseRunRef(run.ExternalID); ref.Number > 0 {
			return e.requestForRef(run, ref.Number)
		}
	}
	return e.requestsForPRs("check_run", fmt.Sprintf("check run %s", quote(run.Name)), run, true)
}

// requestForRef makes the rerun of a check run of ours at its head SHA for the pull request
// its external_id names. The web URL is built from the payload's repository, so its host is
// the GitHub the event came from.
func (e *webhookEvent) requestForRef(run *whCheck, number int) (Result, error) {
	repo, err := e.repository()
	if err != nil {
		return Result{}, err
	}
	req, err := e.prRequest(repo, number, run.HeadSHA, "", true, "body.check_run.external_id", "body.check_run.head_sha", "")
	if err != nil {
		return Result{}, err
	}
	return Result{Requests: []Request{req}}, nil
}

// prRequest makes the request for pull request number of repo at sha (baseSHA may be ""),
// its web URL built from the repository's html_url; numField, shaField and baseField name
// where number, sha and baseSHA came from.
func (e *webhookEvent) prRequest(repo *whRepository, number int, sha, baseSHA string, rerun bool, numField, shaField, baseField string) (Request, error) {
	base := strings.TrimSuffix(repo.HTMLURL, "/")
	if base == "" {
		return Request{}, e.c.invalid("body.repository.html_url", "is missing", nil)
	}
	req := Request{
		Resource: Resource{Owner: repo.Owner.Login, Repo: repo.Name, Number: number,
			URL: base + "/pull/" + strconv.Itoa(number)},
		SHA:            sha,
		InstallationID: e.installationID(),
		Rerun:          rerun,
		DeliveryID:     e.deliveryID,
		BaseSHA:        baseSHA,
	}
	if err := e.c.validate(&req, map[string]string{
		"owner":          "body.repository.owner.login",
		"repo":           "body.repository.name",
		"url":            "body.repository.html_url",
		"number":         numField,
		"sha":            shaField,
		"baseSha":        baseField,
		"installationId": "body.installation.id",
	}); err != nil {
		return Request{}, err
	}
	return req, nil
}

// checkSuite makes a rerun of each pull request a rerequested suite lists.
//
// A requested suite gives nothing. GitHub sends check_suite requested for every push to a
// repository, to every App with checks:write, listing the open pull requests whose head
// branch (in the same repository) the push moved; the same push sends pull_request
// synchronize for each of them (opened when the pull request is new), which requests the
// same commit. It adds nothing for pull requests: a fork's push lists none, and a pull
// request opened on a branch pushed before sends no requested suite at all (see the real
// payloads in testdata: check_suite.requested.json lists no pull request for a push to
// master). Reconciling it too cost each push a second delivery and a skip's read of GitHub.
func (e *webhookEvent) checkSuite() (Result, error) {
	switch e.action {
	case "requested", "rerequested":
	default:
		return e.ignoredAction(), nil
	}
	var p struct {
		CheckSuite *whCheck `json:"check_suite"`
	}
	if err := e.c.unmarshal("body", e.body, &p, false); err != nil {
		return Result{}, err
	}
	suite := p.CheckSuite
	if suite == nil {
		return Result{}, e.c.invalid("body.check_suite", "is missing", nil)
	}
	// A suite names the app it belongs to; only when it names another app is it not ours.
	if d := e.c.d; d.AppID != 0 && suite.App != nil && suite.App.ID != 0 && suite.App.ID != d.AppID {
		return Result{Ignored: fmt.Sprintf("check suite belongs to app %d, not to ours (%d)", suite.App.ID, d.AppID)}, nil
	}
	res, err := e.requestsForPRs("check_suite", "check suite", suite, e.action == "rerequested")
	if err != nil || e.action == "rerequested" || len(res.Requests) == 0 {
		return res, err
	}
	// Checked like a rerequested suite, so that a malformed one is still refused.
	return Result{Ignored: fmt.Sprintf("check_suite requested at %s duplicates the pull_request event of the same push (opened or synchronize); only rerequested asks for a rerun",
		quote(suite.HeadSHA))}, nil
}

// requestsForPRs makes one request at the check's head SHA for each pull request it lists.
// The listed PRs carry API URLs, so the web URL is built from the repository's html_url.
func (e *webhookEvent) requestsForPRs(field, what string, check *whCheck, rerun bool) (Result, error) {
	repo, err := e.repository()
	if err != nil {
		return Result{}, err
	}
	if len(check.PullRequests) == 0 {
		return Result{Ignored: fmt.Sprintf("%s at %s lists no pull requests (a fork's, or a branch without one)",
			what, quote(check.HeadSHA))}, nil
	}
	var res Result
	seen := make(map[int]bool)
	for i, pr := range check.PullRequests {
		numField := fmt.Sprintf("body.%s.pull_requests[%d].number", field, i)
		if pr.Number < 1 {
			return Result{}, e.c.invalid(numField, fmt.Sprintf("is %d; a pull request number is at least 1", pr.Number), nil)
		}
		if repo.ID != 0 && pr.Base.Repo.ID != 0 && pr.Base.Repo.ID != repo.ID {
			continue // a pull request of another repository: its number means nothing here
		}
		if seen[pr.Number] {
			continue
		}
		seen[pr.Number] = true
		req, err := e.prRequest(repo, pr.Number, check.HeadSHA, pr.Base.SHA, rerun, numField, "body."+field+".head_sha",
			fmt.Sprintf("body.%s.pull_requests[%d].base.sha", field, i))
		if err != nil {
			return Result{}, err
		}
		res.Requests = append(res.Requests, req)
	}
	if len(res.Requests) == 0 {
		return Result{Ignored: fmt.Sprintf("%s at %s lists no pull request of %s", what, quote(check.HeadSHA),
			quote(repo.fullName()))}, nil
	}
	return res, nil
}
