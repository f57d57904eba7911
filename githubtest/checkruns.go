package githubtest

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-github/v60/github"
)

// CheckRun is a snapshot of a check run stored by the fake (see Server.CheckRuns).
type CheckRun struct {
	// ID is the check run id; AppID the id of the App that created it.
	ID, AppID int64
	// Name, HeadSHA, Status and Conclusion are as GitHub reports them ("" for no conclusion).
	Name, HeadSHA, Status, Conclusion string
	// Title, Summary and Text are the output fields ("" when unset).
	Title, Summary, Text string
	// DetailsURL and ExternalID are as last set ("" when unset).
	DetailsURL, ExternalID string
	// StartedAt and CompletedAt are the run's timestamps (CompletedAt is zero until completed).
	StartedAt, CompletedAt time.Time
	// Annotations are all annotations ever sent for the run, in order.
	Annotations []*github.CheckRunAnnotation
	// Actions are the requested actions last set.
	Actions []*github.CheckRunAction
	// CompletingWrites counts the create and update requests the fake applied that asked for
	// status completed or set a conclusion, whether or not their answer reached the client.
	// GitHub does not report it; tests judge from it, on GitHub's side, that a run was
	// completed exactly once.
	CompletingWrites int
}

type runState struct {
	id, suiteID            int64
	app                    *App
	repo                   *repoState
	name, headSHA, status  string
	conclusion             *string
	title, summary, text   *string
	detailsURL, externalID *string
	startedAt, completedAt time.Time
	annotations            []*github.CheckRunAnnotation
	actions                []*github.CheckRunAction
	images                 []*github.CheckRunImage
	createdAt, updatedAt   time.Time
	rerequests             int
	completingWrites       int
}

func (r *runState) snapshot() CheckRun {
	c := CheckRun{
		ID: r.id, AppID: r.app.ID, Name: r.name, HeadSHA: r.headSHA, Status: r.status,
		Conclusion: deref(r.conclusion), Title: deref(r.title), Summary: deref(r.summary), Text: deref(r.text),
		DetailsURL: deref(r.detailsURL), ExternalID: deref(r.externalID), StartedAt: r.startedAt, CompletedAt: r.completedAt,
		CompletingWrites: r.completingWrites,
	}
	for _, a := range r.annotations {
		cp := *a
		cp.Path, cp.StartLine, cp.EndLine = copyPtr(a.Path), copyPtr(a.StartLine), copyPtr(a.EndLine)
		cp.StartColumn, cp.EndColumn = copyPtr(a.StartColumn), copyPtr(a.EndColumn)
		cp.AnnotationLevel, cp.Message = copyPtr(a.AnnotationLevel), copyPtr(a.Message)
		cp.Title, cp.RawDetails = copyPtr(a.Title), copyPtr(a.RawDetails)
		c.Annotations = append(c.Annotations, &cp)
	}
	for _, a := range r.actions {
		cp := *a
		c.Actions = append(c.Actions, &cp)
	}
	return c
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// CheckRuns returns every check run on sha in owner/repo (all Apps, superseded runs included), in ascending id
// order, as deep copies.
func (s *Server) CheckRuns(owner, repo, sha string) []CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := repoKey(owner, repo)
	sha = strings.ToLower(sha)
	var out []CheckRun
	for _, r := range s.runOrder {
		if r.headSHA == sha && repoKey(r.repo.owner, r.repo.name) == k {
			out = append(out, r.snapshot())
		}
	}
	return out
}

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func nowSecond() time.Time { return time.Now().UTC().Truncate(time.Second) }

const (
	docCreateRun   = "https://docs.github.com/rest/checks/runs#create-a-check-run"
	docUpdateRun   = "https://docs.github.com/rest/checks/runs#update-a-check-run"
	docGetRun      = "https://docs.github.com/rest/checks/runs#get-a-check-run"
	docListForRef  = "https://docs.github.com/rest/checks/runs#list-check-runs-for-a-git-reference"
	docAnnotations = "https://docs.github.com/rest/checks/runs#list-check-run-annotations"
	docRerequest   = "https://docs.github.com/rest/checks/runs#rerequest-a-check-run"
)

// repoFor returns the repository of the request if the caller's installation can see it. s.mu must be held.
func (s *Server) repoFor(p map[string]string, a authn, doc string) (*repoState, *response) {
	repo := s.repos[repoKey(p["owner"], p["repo"])]
	if repo == nil || (a.user == "" && (a.install == nil || !strings.EqualFold(a.install.owner, repo.owner))) {
		return nil, errorResponse(http.StatusNotFound, "Not Found", doc)
	}
	return repo, nil
}

// runFor returns the check run of the request. s.mu must be held.
func (s *Server) runFor(p map[string]string, a authn, doc string) (*runState, *response) {
	repo, errResp := s.repoFor(p, a, doc)
	if errResp != nil {
		return nil, errResp
	}
	id, err := strconv.ParseInt(p["check_run_id"], 10, 64)
	if err != nil {
		return nil, errorResponse(http.StatusNotFound, "Not Found", doc)
	}
	run := s.runs[id]
	if run == nil || run.repo != repo {
		return nil, errorResponse(http.StatusNotFound, "Not Found", doc)
	}
	return run, nil
}

func ownerMismatch(run *runState, doc string) *response {
	return errorResponse(http.StatusForbidden, fmt.Sprintf("Invalid app_id `%d` - check run can only be modified by the GitHub App that created it.", run.app.ID), doc)
}

// createCheckRun: POST /repos/{owner}/{repo}/check-runs.
func (s *Server) createCheckRun(p map[string]string, a authn, body []byte) *response {
	s.mu.Lock()
	repo, errResp := s.repoFor(p, a, docCreateRun)
	s.mu.Unlock()
	if errResp != nil {
		return errResp
	}
	in, errResp := decodeRunInput(body, true, docCreateRun)
	if errResp != nil {
		return errResp
	}
	now := nowSecond()
	s.mu.Lock()
	defer s.mu.Unlock()
	sha := strings.ToLower(*in.headSHA)
	app := a.install.app
	sk := fmt.Sprintf("%d/%d/%s", repo.id, app.ID, sha)
	suite, ok := s.suites[sk]
	if !ok {
		suite = s.nextSuiteID
		s.nextSuiteID++
		s.suites[sk] = suite
	}
	run := &runState{
		id: s.nextRunID, suiteID: suite, app: app, repo: repo, name: *in.name, headSHA: sha,
		status: "queued", startedAt: now, createdAt: now, updatedAt: now,
	}
	s.nextRunID++
	if in.startedAt != nil {
		run.startedAt = *in.startedAt
	}
	if in.status != nil {
		run.status = *in.status
	}
	if in.conclusion != nil {
		run.status = "completed"
		run.conclusion = copyPtr(in.conclusion)
	}
	if run.status == "completed" {
		run.completingWrites++
		run.completedAt = now
		if in.completedAt != nil {
			run.completedAt = *in.completedAt
		}
	}
	run.detailsURL = copyPtr(in.detailsURL)
	run.externalID = copyPtr(in.externalID)
	applyOutput(run, in.output)
	if in.actionsSet {
		run.actions = in.actions
	}
	s.runs[run.id] = run
	s.runOrder = append(s.runOrder, run)
	return jsonResponse(http.StatusCreated, s.runJSON(run))
}

func applyOutput(run *runState, o *outputInput) {
	if o == nil {
		return
	}
	run.title = copyPtr(o.title)
	run.summary = copyPtr(o.summary)
	if o.text != nil {
		run.text = copyPtr(o.text)
	}
	run.annotations = append(run.annotations, o.annotations...)
	if o.imagesSet {
		run.images = o.images
	}
}

// updateCheckRun: PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}.
func (s *Server) updateCheckRun(p map[string]string, a authn, body []byte) *response {
	s.mu.Lock()
	run, errResp := s.runFor(p, a, docUpdateRun)
	if errResp == nil && run.app.ID != a.install.app.ID {
		errResp = ownerMismatch(run, docUpdateRun)
	}
	s.mu.Unlock()
	if errResp != nil {
		return errResp
	}
	in, errResp := decodeRunInput(body, false, docUpdateRun)
	if errResp != nil {
		return errResp
	}
	now := nowSecond()
	s.mu.Lock()
	defer s.mu.Unlock()
	if (in.status != nil && *in.status == "completed") || in.conclusion != nil {
		run.completingWrites++
	}
	if run.status == "completed" {
		changes := (in.status != nil && *in.status != "completed") ||
			(in.conclusion != nil && (run.conclusion == nil || *in.conclusion != *run.conclusion))
		if changes && s.cfg.strictCompleted {
			return validationFailed(docUpdateRun, github.Error{Resource: "CheckRun", Field: "status", Code: "custom",
				Message: "a completed check run cannot change its status or conclusion"})
		}
		// GitHub keeps status, conclusion and completed_at of a completed run.
	} else {
		if in.status != nil {
			run.status = *in.status
		}
		if in.conclusion != nil {
			run.status = "completed"
			run.conclusion = copyPtr(in.conclusion)
		}
		if run.status == "completed" {
			run.completedAt = now
			if in.completedAt != nil {
				run.completedAt = *in.completedAt
			}
		}
	}
	if in.name != nil {
		run.name = *in.name
	}
	if in.startedAt != nil {
		run.startedAt = *in.startedAt
	}
	if in.detailsURL != nil {
		run.detailsURL = copyPtr(in.detailsURL)
	}
	if in.externalID != nil {
		run.externalID = copyPtr(in.externalID)
	}
	applyOutput(run, in.output)
	if in.actionsSet {
		run.actions = in.actions
	}
	run.updatedAt = now
	return jsonResponse(http.StatusOK, s.runJSON(run))
}

// getCheckRun: GET /repos/{owner}/{repo}/check-runs/{check_run_id}.
func (s *Server) getCheckRun(p map[string]string, a authn) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	run, errResp := s.runFor(p, a, docGetRun)
	if errResp != nil {
		return errResp
	}
	resp := jsonResponse(http.StatusOK, s.runJSON(run))
	resp.lastModified = run.updatedAt
	return resp
}

// rerequestCheckRun: POST /repos/{owner}/{repo}/check-runs/{check_run_id}/rerequest. The run is unchanged.
func (s *Server) rerequestCheckRun(p map[string]string, a authn) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	run, errResp := s.runFor(p, a, docRerequest)
	if errResp != nil {
		return errResp
	}
	if run.app.ID != a.install.app.ID {
		return ownerMismatch(run, docRerequest)
	}
	run.rerequests++
	return jsonResponse(http.StatusCreated, map[string]any{})
}

// listCheckRuns: GET /repos/{owner}/{repo}/commits/{ref}/check-runs.
func (s *Server) listCheckRuns(r *http.Request, p map[string]string, a authn) *response {
	q := r.URL.Query()
	filter := q.Get("filter")
	if filter == "" {
		filter = "latest"
	}
	v := &schema{}
	if filter != "latest" && filter != "all" {
		v.add("For 'filter', %q is not a member of [\"latest\", \"all\"].", filter)
	}
	var status *string
	if q.Has("status") {
		st := q.Get("status")
		status = &st
		if st != "queued" && st != "in_progress" && st != "completed" {
			v.add("For 'status', %q is not a member of [\"queued\", \"in_progress\", \"completed\"].", st)
		}
	}
	var appID int64
	if q.Has("app_id") {
		id, err := strconv.ParseInt(q.Get("app_id"), 10, 64)
		if err != nil {
			v.add("For 'app_id', %q is not an integer.", q.Get("app_id"))
		}
		appID = id
	}
	if len(v.details) > 0 {
		return errorResponse(http.StatusUnprocessableEntity, "Invalid request.\n\n"+strings.Join(v.details, "\n"), docListForRef)
	}
	page, perPage := pageParams(q)

	s.mu.Lock()
	defer s.mu.Unlock()
	repo, errResp := s.repoFor(p, a, docListForRef)
	if errResp != nil {
		return errResp
	}
	sha, ok := s.resolveRef(repo, p["ref"])
	if !ok {
		return errorResponse(http.StatusUnprocessableEntity, "No commit found for SHA: "+p["ref"], docListForRef)
	}
	latest := map[string]*runState{}
	var all []*runState
	for _, run := range s.runOrder {
		if run.repo != repo || run.headSHA != sha {
			continue
		}
		all = append(all, run)
		k := fmt.Sprintf("%d\x00%s", run.suiteID, run.name)
		if cur := latest[k]; cur == nil || run.id > cur.id {
			latest[k] = run
		}
	}
	var runs []*runState
	for _, run := range all {
		if filter == "latest" && latest[fmt.Sprintf("%d\x00%s", run.suiteID, run.name)] != run {
			continue
		}
		if q.Has("check_name") && run.name != q.Get("check_name") {
			continue
		}
		if status != nil && run.status != *status {
			continue
		}
		if appID != 0 && run.app.ID != appID {
			continue
		}
		runs = append(runs, run)
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].id > runs[j].id })
	total := len(runs)
	lo, hi := pageBounds(total, page, perPage)
	items := make([]any, 0, hi-lo)
	for _, run := range runs[lo:hi] {
		items = append(items, s.runJSON(run))
	}
	resp := jsonResponse(http.StatusOK, map[string]any{"total_count": total, "check_runs": items})
	resp.header = http.Header{}
	s.setLink(resp.header, r, page, perPage, total)
	return resp
}

// resolveRef turns a ref (SHA, heads/BRANCH, BRANCH, refs/heads/BRANCH) into a head SHA. Branches are the head
// refs of the repository's pull requests. s.mu must be held.
func (s *Server) resolveRef(repo *repoState, ref string) (string, bool) {
	if isSHA(ref) {
		return strings.ToLower(ref), true
	}
	branch := strings.TrimPrefix(strings.TrimPrefix(ref, "refs/"), "heads/")
	var best *prState
	for _, pr := range repo.prs {
		if pr.pr.HeadRef == branch && (best == nil || pr.updatedAt.After(best.updatedAt)) {
			best = pr
		}
	}
	if best == nil {
		return "", false
	}
	return strings.ToLower(best.pr.HeadSHA), true
}

// listAnnotations: GET /repos/{owner}/{repo}/check-runs/{check_run_id}/annotations.
func (s *Server) listAnnotations(r *http.Request, p map[string]string, a authn) *response {
	q := r.URL.Query()
	page, perPage := pageParams(q)
	s.mu.Lock()
	defer s.mu.Unlock()
	run, errResp := s.runFor(p, a, docAnnotations)
	if errResp != nil {
		return errResp
	}
	total := len(run.annotations)
	lo, hi := pageBounds(total, page, perPage)
	items := make([]any, 0, hi-lo)
	for _, an := range run.annotations[lo:hi] {
		items = append(items, map[string]any{
			"path":             deref(an.Path),
			"blob_href":        fmt.Sprintf("%s/%s/%s/blob/%s/%s", s.WebURL(), run.repo.owner, run.repo.name, run.headSHA, deref(an.Path)),
			"start_line":       an.StartLine,
			"end_line":         an.EndLine,
			"start_column":     an.StartColumn,
			"end_column":       an.EndColumn,
			"annotation_level": an.AnnotationLevel,
			"title":            an.Title,
			"message":          an.Message,
			"raw_details":      an.RawDetails,
		})
	}
	resp := jsonResponse(http.StatusOK, items)
	resp.header = http.Header{}
	resp.lastModified = run.updatedAt
	s.setLink(resp.header, r, page, perPage, total)
	return resp
}

// pageParams reads page (default 1) and per_page (default 30, at most 100).
func pageParams(q url.Values) (page, perPage int) {
	page, perPage = 1, 30
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 0 {
		page = n
	}
	if n, err := strconv.Atoi(q.Get("per_page")); err == nil && n > 0 {
		perPage = min(n, 100)
	}
	return page, perPage
}

func pageBounds(total, page, perPage int) (int, int) {
	lo := (page - 1) * perPage
	if lo > total {
		lo = total
	}
	return lo, min(lo+perPage, total)
}

// setLink sets GitHub's pagination Link header (next, last, first, prev) when there is more than one page
// or the request is past the first page.
func (s *Server) setLink(h http.Header, r *http.Request, page, perPage, total int) {
	last := (total + perPage - 1) / perPage
	if last < 1 {
		last = 1
	}
	link := func(n int, rel string) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(n))
		q.Set("per_page", strconv.Itoa(perPage))
		return fmt.Sprintf(`<%s%s?%s>; rel="%s"`, s.URL(), r.URL.EscapedPath(), q.Encode(), rel)
	}
	var parts []string
	if page > 1 {
		parts = append(parts, link(min(page-1, last), "prev"))
	}
	if page < last {
		parts = append(parts, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		parts = append(parts, link(1, "first"))
	}
	if len(parts) > 0 {
		h.Set("Link", strings.Join(parts, ", "))
	}
}

// checkRunJSON is the response object of §1.7; nullable fields are pointers without omitempty.
type checkRunJSON struct {
	ID           int64          `json:"id"`
	NodeID       string         `json:"node_id"`
	HeadSHA      string         `json:"head_sha"`
	ExternalID   *string        `json:"external_id"`
	URL          string         `json:"url"`
	HTMLURL      string         `json:"html_url"`
	DetailsURL   string         `json:"details_url"`
	Status       string         `json:"status"`
	Conclusion   *string        `json:"conclusion"`
	StartedAt    *string        `json:"started_at"`
	CompletedAt  *string        `json:"completed_at"`
	Output       outputJSON     `json:"output"`
	Name         string         `json:"name"`
	CheckSuite   map[string]any `json:"check_suite"`
	App          map[string]any `json:"app"`
	PullRequests []any          `json:"pull_requests"`
}

type outputJSON struct {
	Title            *string `json:"title"`
	Summary          *string `json:"summary"`
	Text             *string `json:"text"`
	AnnotationsCount int     `json:"annotations_count"`
	AnnotationsURL   string  `json:"annotations_url"`
}

// runJSON renders a run. s.mu must be held.
func (s *Server) runJSON(run *runState) checkRunJSON {
	repo := run.repo
	u := fmt.Sprintf("%s/repos/%s/%s/check-runs/%d", s.URL(), repo.owner, repo.name, run.id)
	ext := ""
	if run.externalID != nil {
		ext = *run.externalID
	}
	details := "https://example.com/apps/" + run.app.Slug // the App's homepage
	if run.detailsURL != nil && *run.detailsURL != "" {
		details = *run.detailsURL
	}
	started := ts(run.startedAt)
	j := checkRunJSON{
		ID:           run.id,
		NodeID:       base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("08:CheckRun%d", run.id))),
		HeadSHA:      run.headSHA,
		ExternalID:   &ext,
		URL:          u,
		HTMLURL:      fmt.Sprintf("%s/%s/%s/runs/%d", s.WebURL(), repo.owner, repo.name, run.id),
		DetailsURL:   details,
		Status:       run.status,
		Conclusion:   copyPtr(run.conclusion),
		StartedAt:    &started,
		Output:       outputJSON{Title: run.title, Summary: run.summary, Text: run.text, AnnotationsCount: len(run.annotations), AnnotationsURL: u + "/annotations"},
		Name:         run.name,
		CheckSuite:   map[string]any{"id": run.suiteID},
		App:          s.appJSON(run.app),
		PullRequests: []any{},
	}
	if !run.completedAt.IsZero() {
		c := ts(run.completedAt)
		j.CompletedAt = &c
	}
	for _, pr := range repo.sortedPRs() {
		if pr.pr.State == "open" && strings.EqualFold(pr.pr.HeadSHA, run.headSHA) {
			j.PullRequests = append(j.PullRequests, s.prMinimalJSON(repo, pr))
		}
	}
	return j
}
