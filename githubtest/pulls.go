package githubtest

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// PullRequest describes a pull request of the fake (see Server.AddPullRequest).
type PullRequest struct {
	// Number is the PR number (required, ≥ 1).
	Number int
	// Title is the PR title.
	Title string
	// HeadSHA is the head commit (40 hex digits); HeadRef its branch (default "pr-<Number>").
	HeadSHA string
	HeadRef string
	// BaseRef is the target branch (default "main"); BaseSHA its commit (default derived from BaseRef).
	BaseRef string
	BaseSHA string
	// State is "open" (default) or "closed".
	State string
	// Draft marks a draft PR.
	Draft bool
	// User is the author's login (default "octocat").
	User string
	// Files are the changed files at the head commit.
	Files []File
}

// File is one changed file of a pull request.
type File struct {
	// Filename is the path of the file.
	Filename string
	// Status is added, modified, removed or renamed (default modified).
	Status string
	// PreviousFilename is the old path of a renamed file.
	PreviousFilename string
	// Patch is the unified diff hunk(s) of the file.
	Patch string
	// Additions and Deletions are computed from Patch when both are 0.
	Additions, Deletions int
}

type repoState struct {
	id          int64
	owner, name string
	prs         map[int]*prState
	// commits are the head commits pull requests have had, by SHA: each keeps the files it
	// changed from its pull request's base, so that an older head can still be compared.
	commits map[string]commitState
}

// commitState is a head commit of a pull request: its base and its diff from it.
type commitState struct {
	base  string
	files []File
	at    time.Time
}

type prState struct {
	id                   int64
	pr                   PullRequest
	createdAt, updatedAt time.Time
}

func repoKey(owner, repo string) string { return strings.ToLower(owner + "/" + repo) }

// sortedPRs returns the PRs by number. s.mu must be held.
func (r *repoState) sortedPRs() []*prState {
	out := make([]*prState, 0, len(r.prs))
	for _, p := range r.prs {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pr.Number < out[j].pr.Number })
	return out
}

// AddRepo creates the repository owner/repo (if it does not exist) and installs the default App on owner.
// Names are case-insensitive in requests; the spelling given here is the one responses use.
func (s *Server) AddRepo(owner, repo string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addRepoLocked(owner, repo)
}

func (s *Server) addRepoLocked(owner, repo string) *repoState {
	k := repoKey(owner, repo)
	r := s.repos[k]
	if r == nil {
		r = &repoState{id: s.nextRepoID, owner: owner, name: repo, prs: map[int]*prState{}, commits: map[string]commitState{}}
		s.nextRepoID++
		s.repos[k] = r
	}
	if s.firstOwner == "" {
		s.firstOwner = owner
	}
	s.installLocked(s.defaultApp, owner)
	return r
}

// AddPullRequest creates or replaces pull request pr.Number of owner/repo (creating the repository with
// AddRepo if needed).
func (s *Server) AddPullRequest(owner, repo string, pr PullRequest) {
	if pr.Number < 1 {
		panic("githubtest: AddPullRequest: Number must be ≥ 1")
	}
	if pr.State == "" {
		pr.State = "open"
	}
	if pr.HeadRef == "" {
		pr.HeadRef = "pr-" + strconv.Itoa(pr.Number)
	}
	if pr.BaseRef == "" {
		pr.BaseRef = "main"
	}
	if pr.BaseSHA == "" {
		pr.BaseSHA = fakeSHA("base:" + repoKey(owner, repo) + ":" + pr.BaseRef)
	}
	if pr.User == "" {
		pr.User = "octocat"
	}
	pr.HeadSHA = strings.ToLower(pr.HeadSHA)
	pr.Files = copyFiles(pr.Files)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.addRepoLocked(owner, repo)
	now := nowSecond()
	r.commits[pr.HeadSHA] = commitState{base: pr.BaseSHA, files: pr.Files, at: now}
	if cur := r.prs[pr.Number]; cur != nil {
		cur.pr = pr
		cur.updatedAt = now
		return
	}
	r.prs[pr.Number] = &prState{id: r.id*1000 + int64(pr.Number), pr: pr, createdAt: now, updatedAt: now}
}

// PushHead records a new head commit sha on pull request number of owner/repo, with its changed files
// (nil keeps the previous list). It panics if the PR does not exist. The previous head stays known:
// comparing it with the base still gives its own files.
func (s *Server) PushHead(owner, repo string, number int, sha string, files []File) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[repoKey(owner, repo)]
	if r == nil || r.prs[number] == nil {
		panic(fmt.Sprintf("githubtest: PushHead: no pull request %s/%s#%d", owner, repo, number))
	}
	p := r.prs[number]
	p.pr.HeadSHA = strings.ToLower(sha)
	if files != nil {
		p.pr.Files = copyFiles(files)
	}
	p.updatedAt = nowSecond()
	r.commits[p.pr.HeadSHA] = commitState{base: p.pr.BaseSHA, files: p.pr.Files, at: p.updatedAt}
}

func copyFiles(f []File) []File {
	if f == nil {
		return nil
	}
	return append([]File(nil), f...)
}

func fakeSHA(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func (s *Server) repoJSON(r *repoState) map[string]any {
	return map[string]any{
		"id":        r.id,
		"node_id":   base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("010:Repository%d", r.id))),
		"name":      r.name,
		"full_name": r.owner + "/" + r.name,
		"private":   true,
		"owner":     s.userJSON(r.owner),
		"url":       fmt.Sprintf("%s/repos/%s/%s", s.URL(), r.owner, r.name),
		"html_url":  fmt.Sprintf("%s/%s/%s", s.WebURL(), r.owner, r.name),
	}
}

// prMinimalJSON is the pull_requests item of a check run.
func (s *Server) prMinimalJSON(r *repoState, p *prState) map[string]any {
	mini := map[string]any{"id": r.id, "url": fmt.Sprintf("%s/repos/%s/%s", s.URL(), r.owner, r.name), "name": r.name}
	return map[string]any{
		"url":    fmt.Sprintf("%s/repos/%s/%s/pulls/%d", s.URL(), r.owner, r.name, p.pr.Number),
		"id":     p.id,
		"number": p.pr.Number,
		"head":   map[string]any{"ref": p.pr.HeadRef, "sha": p.pr.HeadSHA, "repo": mini},
		"base":   map[string]any{"ref": p.pr.BaseRef, "sha": p.pr.BaseSHA, "repo": mini},
	}
}

const (
	docGetPull   = "https://docs.github.com/rest/pulls/pulls#get-a-pull-request"
	docPullFiles = "https://docs.github.com/rest/pulls/pulls#list-pull-requests-files"
)

func (s *Server) prFor(p map[string]string, a authn, doc string) (*repoState, *prState, *response) {
	repo, errResp := s.repoFor(p, a, doc)
	if errResp != nil {
		return nil, nil, errResp
	}
	n, err := strconv.Atoi(p["pull_number"])
	if err != nil || repo.prs[n] == nil {
		return nil, nil, errorResponse(http.StatusNotFound, "Not Found", doc)
	}
	return repo, repo.prs[n], nil
}

// getPullRequest: GET /repos/{owner}/{repo}/pulls/{pull_number}.
func (s *Server) getPullRequest(p map[string]string, a authn) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, pr, errResp := s.prFor(p, a, docGetPull)
	if errResp != nil {
		return errResp
	}
	x := pr.pr
	api := fmt.Sprintf("%s/repos/%s/%s/pulls/%d", s.URL(), repo.owner, repo.name, x.Number)
	web := fmt.Sprintf("%s/%s/%s/pull/%d", s.WebURL(), repo.owner, repo.name, x.Number)
	add, del := 0, 0
	for _, f := range x.Files {
		a, d := fileCounts(f)
		add += a
		del += d
	}
	var closedAt any
	if x.State == "closed" {
		closedAt = ts(pr.updatedAt)
	}
	body := map[string]any{
		"url":           api,
		"id":            pr.id,
		"node_id":       base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("011:PullRequest%d", pr.id))),
		"html_url":      web,
		"diff_url":      web + ".diff",
		"patch_url":     web + ".patch",
		"number":        x.Number,
		"state":         x.State,
		"locked":        false,
		"title":         x.Title,
		"user":          s.userJSON(x.User),
		"body":          nil,
		"created_at":    ts(pr.createdAt),
		"updated_at":    ts(pr.updatedAt),
		"closed_at":     closedAt,
		"merged_at":     nil,
		"draft":         x.Draft,
		"merged":        false,
		"commits_url":   api + "/commits",
		"statuses_url":  fmt.Sprintf("%s/repos/%s/%s/statuses/%s", s.URL(), repo.owner, repo.name, x.HeadSHA),
		"head":          map[string]any{"label": repo.owner + ":" + x.HeadRef, "ref": x.HeadRef, "sha": x.HeadSHA, "user": s.userJSON(repo.owner), "repo": s.repoJSON(repo)},
		"base":          map[string]any{"label": repo.owner + ":" + x.BaseRef, "ref": x.BaseRef, "sha": x.BaseSHA, "user": s.userJSON(repo.owner), "repo": s.repoJSON(repo)},
		"additions":     add,
		"deletions":     del,
		"changed_files": len(x.Files),
	}
	resp := jsonResponse(http.StatusOK, body)
	resp.lastModified = pr.updatedAt
	return resp
}

// fileCounts returns the additions and deletions of f, computed from its patch when both are 0.
func fileCounts(f File) (int, int) {
	if f.Additions != 0 || f.Deletions != 0 {
		return f.Additions, f.Deletions
	}
	add, del := 0, 0
	for _, l := range strings.Split(f.Patch, "\n") {
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
		case strings.HasPrefix(l, "+"):
			add++
		case strings.HasPrefix(l, "-"):
			del++
		}
	}
	return add, del
}

// listPullRequestFiles: GET /repos/{owner}/{repo}/pulls/{pull_number}/files.
func (s *Server) listPullRequestFiles(r *http.Request, p map[string]string, a authn) *response {
	page, perPage := pageParams(r.URL.Query())
	s.mu.Lock()
	defer s.mu.Unlock()
	repo, pr, errResp := s.prFor(p, a, docPullFiles)
	if errResp != nil {
		return errResp
	}
	files := pr.pr.Files
	lo, hi := pageBounds(len(files), page, perPage)
	items := make([]any, 0, hi-lo)
	for _, f := range files[lo:hi] {
		items = append(items, s.fileJSON(repo, pr.pr.HeadSHA, f))
	}
	resp := jsonResponse(http.StatusOK, items)
	resp.header = http.Header{}
	resp.lastModified = pr.updatedAt
	s.setLink(resp.header, r, page, perPage, len(files))
	return resp
}

// fileJSON is a changed file as the files of a pull request and of a comparison list it.
func (s *Server) fileJSON(repo *repoState, head string, f File) map[string]any {
	add, del := fileCounts(f)
	status := f.Status
	if status == "" {
		status = "modified"
	}
	esc := escapePath(f.Filename)
	item := map[string]any{
		"sha":          fakeSHA("blob:" + head + ":" + f.Filename + ":" + f.Patch),
		"filename":     f.Filename,
		"status":       status,
		"additions":    add,
		"deletions":    del,
		"changes":      add + del,
		"blob_url":     fmt.Sprintf("%s/%s/%s/blob/%s/%s", s.WebURL(), repo.owner, repo.name, head, esc),
		"raw_url":      fmt.Sprintf("%s/%s/%s/raw/%s/%s", s.WebURL(), repo.owner, repo.name, head, esc),
		"contents_url": fmt.Sprintf("%s/repos/%s/%s/contents/%s?ref=%s", s.URL(), repo.owner, repo.name, esc, head),
	}
	if f.Patch != "" {
		item["patch"] = f.Patch
	}
	if f.PreviousFilename != "" {
		item["previous_filename"] = f.PreviousFilename
	}
	return item
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, x := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(x, "%", "%25"), " ", "%20")
	}
	return strings.Join(parts, "/")
}
