// Package githubtest is a fake GitHub REST API for tests: an httptest
// server implementing the endpoints Drover uses (list issue comments
// with Link-header pagination, create and update an issue comment,
// create a commit status). It checks the Authorization header and the
// JSON bodies the way GitHub does (401, 403 for a read-only token, 404,
// 422 for a body over 65,536 characters or a bad status), and records
// every call so a test can assert the exact calls made.
//
// The API is served under /api/v3/ as on GitHub Enterprise Server; pass
// Server.URL as the API URL.
package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Call is one request the server received.
type Call struct {
	Method string
	Path   string // without the /api/v3 prefix, e.g. /repos/o/r/issues/1/comments
	Query  string // raw query, e.g. page=2&per_page=100
	Body   string // raw JSON body, "" for none
	Status int    // the status answered
}

// String renders a call compactly for comparisons: "GET /repos/o/r/... ?page=2".
func (c Call) String() string {
	s := c.Method + " " + c.Path
	if c.Query != "" {
		s += "?" + c.Query
	}
	return s
}

// Comment is an issue comment held by the server.
type Comment struct {
	ID     int64
	Number int // issue / pull request number
	Body   string
	Owner  string
	Repo   string
}

// Status is a commit status held by the server.
type Status struct {
	SHA         string
	State       string
	Context     string
	Description string
	TargetURL   string
}

// Fault is a canned answer for the next matching request.
type Fault struct {
	Status int
	Header http.Header
	Body   string
	Delay  time.Duration // wait before answering (to force client timeouts)
}

// Server is the fake GitHub.
type Server struct {
	URL string // API root, e.g. http://127.0.0.1:1234 (the API lives under /api/v3/)

	srv *httptest.Server

	mu       sync.Mutex
	token    string
	readOnly bool
	perPage  int
	nextID   int64
	comments []*Comment
	statuses []Status
	calls    []Call
	// callsGen counts ResetCalls, so that a call in flight across a
	// reset does not record its status into the new list.
	callsGen int
	faults   []Fault
}

// CommentLimit is GitHub's limit on a comment body, in characters.
const CommentLimit = 65536

// New starts a fake GitHub accepting token; it is closed when the test ends.
func New(t testing.TB, token string) *Server {
	s := &Server{token: token, perPage: 30, nextID: 1000}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v3/repos/{owner}/{repo}/issues/{number}/comments", s.listComments)
	mux.HandleFunc("POST /api/v3/repos/{owner}/{repo}/issues/{number}/comments", s.createComment)
	mux.HandleFunc("PATCH /api/v3/repos/{owner}/{repo}/issues/comments/{id}", s.updateComment)
	mux.HandleFunc("POST /api/v3/repos/{owner}/{repo}/statuses/{sha}", s.createStatus)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Not Found")
	})
	s.srv = httptest.NewServer(s.wrap(mux))
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Close stops the server (also done at the end of the test).
func (s *Server) Close() { s.srv.Close() }

// SetReadOnly makes the token read-only: writes answer 403 "Resource not
// accessible by integration", as for the GITHUB_TOKEN of a fork's PR.
func (s *Server) SetReadOnly(ro bool) { s.mu.Lock(); s.readOnly = ro; s.mu.Unlock() }

// SetPerPage sets the default page size (GitHub's is 30; per_page wins).
func (s *Server) SetPerPage(n int) { s.mu.Lock(); s.perPage = n; s.mu.Unlock() }

// Fail queues canned answers; each is used by one request, in order.
func (s *Server) Fail(f ...Fault) { s.mu.Lock(); s.faults = append(s.faults, f...); s.mu.Unlock() }

// AddComment seeds an existing comment and returns its ID.
func (s *Server) AddComment(owner, repo string, number int, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.comments = append(s.comments, &Comment{ID: s.nextID, Number: number, Body: body, Owner: owner, Repo: repo})
	return s.nextID
}

// Calls returns every request received, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallStrings returns Calls rendered with Call.String.
func (s *Server) CallStrings() []string {
	var out []string
	for _, c := range s.Calls() {
		out = append(out, c.String())
	}
	return out
}

// ResetCalls forgets the recorded calls.
func (s *Server) ResetCalls() { s.mu.Lock(); s.calls = nil; s.callsGen++; s.mu.Unlock() }

// Comments returns the comments on an issue, oldest first.
func (s *Server) Comments(owner, repo string, number int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.comments {
		if c.Owner == owner && c.Repo == repo && c.Number == number {
			out = append(out, *c)
		}
	}
	return out
}

// Statuses returns the statuses set on sha, oldest first.
func (s *Server) Statuses(sha string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Status
	for _, st := range s.statuses {
		if st.SHA == sha {
			out = append(out, st)
		}
	}
	return out
}

// AllStatuses returns every status set, oldest first.
func (s *Server) AllStatuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.statuses)
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }

// wrap records the call, applies faults and checks authentication.
func (s *Server) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body strings.Builder
		if r.Body != nil {
			b := make([]byte, 32<<10)
			for {
				n, err := r.Body.Read(b)
				body.Write(b[:n])
				if err != nil {
					break
				}
			}
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		s.mu.Lock()
		idx, gen := len(s.calls), s.callsGen
		s.calls = append(s.calls, Call{Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, "/api/v3"), Query: r.URL.RawQuery, Body: body.String()})
		var fault *Fault
		if len(s.faults) > 0 {
			f := s.faults[0]
			s.faults = s.faults[1:]
			fault = &f
		}
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			if gen == s.callsGen {
				s.calls[idx].Status = rec.status
			}
			s.mu.Unlock()
		}()

		if fault != nil {
			if fault.Delay > 0 {
				select {
				case <-time.After(fault.Delay):
				case <-r.Context().Done():
					rec.status = 0
					return
				}
			}
			for k, vs := range fault.Header {
				rec.Header()[k] = vs
			}
			if fault.Status != 0 {
				rec.Header().Set("Content-Type", "application/json; charset=utf-8")
				rec.WriteHeader(fault.Status)
				_, _ = rec.Write([]byte(fault.Body))
				return
			}
		}
		if !s.authorized(r) {
			if r.Header.Get("Authorization") == "" {
				writeError(rec, http.StatusUnauthorized, "Requires authentication")
			} else {
				writeError(rec, http.StatusUnauthorized, "Bad credentials")
			}
			return
		}
		s.mu.Lock()
		ro := s.readOnly
		s.mu.Unlock()
		if ro && r.Method != http.MethodGet {
			writeError(rec, http.StatusForbidden, "Resource not accessible by integration")
			return
		}
		r.Body = nopBody{strings.NewReader(body.String())}
		next.ServeHTTP(rec, r)
	})
}

type nopBody struct{ *strings.Reader }

func (nopBody) Close() error { return nil }

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	for _, scheme := range []string{"Bearer ", "token "} {
		if t, ok := strings.CutPrefix(h, scheme); ok && t == s.token {
			return true
		}
	}
	return false
}

func writeError(w http.ResponseWriter, code int, msg string, errs ...map[string]string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	v := map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest", "status": strconv.Itoa(code)}
	if len(errs) > 0 {
		v["errors"] = errs
	}
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) commentJSON(c *Comment) map[string]any {
	return map[string]any{
		"id":         c.ID,
		"node_id":    fmt.Sprintf("IC_%d", c.ID),
		"body":       c.Body,
		"html_url":   fmt.Sprintf("https://github.example/%s/%s/pull/%d#issuecomment-%d", c.Owner, c.Repo, c.Number, c.ID),
		"url":        fmt.Sprintf("%s/api/v3/repos/%s/%s/issues/comments/%d", s.URL, c.Owner, c.Repo, c.ID),
		"user":       map[string]any{"login": "drover-bot", "type": "Bot"},
		"created_at": "2026-01-01T00:00:00Z",
		"updated_at": "2026-01-01T00:00:00Z",
	}
}

func issueNumber(w http.ResponseWriter, r *http.Request) (int, bool) {
	n, err := strconv.Atoi(r.PathValue("number"))
	if err != nil || n <= 0 {
		writeError(w, http.StatusNotFound, "Not Found")
		return 0, false
	}
	return n, true
}

func (s *Server) listComments(w http.ResponseWriter, r *http.Request) {
	n, ok := issueNumber(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	s.mu.Lock()
	per := s.perPage
	s.mu.Unlock()
	if v := q.Get("per_page"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 {
			writeError(w, http.StatusUnprocessableEntity, "Invalid per_page")
			return
		}
		per = min(p, 100)
	}
	page := 1
	if v := q.Get("page"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 {
			writeError(w, http.StatusUnprocessableEntity, "Invalid page")
			return
		}
		page = p
	}
	all := s.Comments(r.PathValue("owner"), r.PathValue("repo"), n)
	last := max(1, (len(all)+per-1)/per)
	from := min((page-1)*per, len(all))
	to := min(from+per, len(all))
	out := []map[string]any{}
	for i := from; i < to; i++ {
		out = append(out, s.commentJSON(&all[i]))
	}
	var links []string
	link := func(p int, rel string) {
		u := url.URL{Path: r.URL.Path}
		v := url.Values{"per_page": {strconv.Itoa(per)}, "page": {strconv.Itoa(p)}}
		u.RawQuery = v.Encode()
		links = append(links, fmt.Sprintf("<%s%s>; rel=%q", s.URL, u.String(), rel))
	}
	if page < last {
		link(page+1, "next")
		link(last, "last")
	}
	if page > 1 {
		link(1, "first")
		link(page-1, "prev")
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	writeJSON(w, http.StatusOK, out)
}

// commentBody decodes and checks {"body": "..."} like GitHub.
func commentBody(w http.ResponseWriter, r *http.Request) (string, bool) {
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return "", false
	}
	b, ok := req["body"].(string)
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"body\" wasn't supplied.")
		return "", false
	}
	if n := utf8.RuneCountInString(b); n > CommentLimit {
		writeError(w, http.StatusUnprocessableEntity, "Validation Failed",
			map[string]string{"resource": "IssueComment", "code": "unprocessable", "field": "data", "message": "Body is too long (maximum is 65536 characters)"})
		return "", false
	}
	return b, true
}

func (s *Server) createComment(w http.ResponseWriter, r *http.Request) {
	n, ok := issueNumber(w, r)
	if !ok {
		return
	}
	body, ok := commentBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	s.nextID++
	c := &Comment{ID: s.nextID, Number: n, Body: body, Owner: r.PathValue("owner"), Repo: r.PathValue("repo")}
	s.comments = append(s.comments, c)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, s.commentJSON(c))
}

func (s *Server) updateComment(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	body, ok := commentBody(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	var c *Comment
	for _, x := range s.comments {
		if x.ID == id && x.Owner == r.PathValue("owner") && x.Repo == r.PathValue("repo") {
			c = x
		}
	}
	if c != nil {
		c.Body = body
	}
	s.mu.Unlock()
	if c == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, s.commentJSON(c))
}

var shaRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

func (s *Server) createStatus(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha")
	if !shaRE.MatchString(sha) {
		writeError(w, http.StatusUnprocessableEntity, "No commit found for SHA: "+sha)
		return
	}
	var req struct {
		State       *string `json:"state"`
		TargetURL   *string `json:"target_url"`
		Description *string `json:"description"`
		Context     *string `json:"context"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON")
		return
	}
	if req.State == nil || !slices.Contains([]string{"pending", "success", "failure", "error"}, *req.State) {
		writeError(w, http.StatusUnprocessableEntity, "Validation Failed",
			map[string]string{"resource": "Status", "code": "custom", "field": "state", "message": "state is not included in the list"})
		return
	}
	st := Status{SHA: sha, State: *req.State, Context: "default"}
	if req.Context != nil {
		st.Context = *req.Context
	}
	if req.Description != nil {
		if utf8.RuneCountInString(*req.Description) > 140 {
			writeError(w, http.StatusUnprocessableEntity, "Validation Failed",
				map[string]string{"resource": "Status", "code": "custom", "field": "description", "message": "description is too long (maximum is 140 characters)"})
			return
		}
		st.Description = *req.Description
	}
	if req.TargetURL != nil {
		st.TargetURL = *req.TargetURL
	}
	s.mu.Lock()
	s.statuses = append(s.statuses, st)
	id := len(s.statuses)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{
		"id": id, "state": st.State, "context": st.Context,
		"description": st.Description, "target_url": st.TargetURL,
		"created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
	})
}
