package server_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/server/servertest"
)

// listPages lists ns/prefix per_page at a time from token, following
// the next tokens, and returns every page's paths.
func listPages(t *testing.T, ctx context.Context, vars *api.Variables, ns, prefix string, perPage int, token string) [][]string {
	t.Helper()
	var pages [][]string
	for range 100 {
		params := map[string]string{"per_page": fmt.Sprint(perPage)}
		if token != "" {
			params["next_token"] = token
		}
		page, meta, err := vars.List(ctx, ns, prefix, &api.QueryOptions{Params: params})
		if err != nil {
			t.Fatalf("list %s %q per_page=%d next_token=%q: %v", ns, prefix, perPage, token, err)
		}
		var paths []string
		for _, v := range page {
			paths = append(paths, v.Namespace+":"+v.Path)
		}
		pages = append(pages, paths)
		if meta.NextToken == "" {
			return pages
		}
		token = meta.NextToken
	}
	t.Fatalf("list %s %q: over 100 pages", ns, prefix)
	return nil
}

func names(ns, format string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, ns+":"+fmt.Sprintf(format, i))
	}
	return out
}

// TestVariableListPaging: GET /v1/vars pages as Nomad's does (per_page,
// next_token, the X-Nomad-NextToken header): 25 variables 10 at a time
// are 3 pages with none twice and none missed, the prefix filter holds
// across pages, a token whose variable was deleted in between goes on
// from the next one, and listing every namespace pages across them.
func TestVariableListPaging(t *testing.T) {
	s := servertest.Single(t, noHeartbeats)
	ctx := ctxT(t)
	vars := s.Client.Variables()
	put := func(ns, path string) {
		t.Helper()
		if _, err := vars.Put(ctx, &api.Variable{Namespace: ns, Path: path, Items: map[string]string{"k": "v"}}, nil); err != nil {
			t.Fatalf("put %s %s: %v", ns, path, err)
		}
	}
	for i := range 25 {
		put("default", fmt.Sprintf("page/v%02d", i))
	}
	// Around the prefix, so that the filter has something to leave out.
	put("default", "other/x")
	put("default", "page")
	put("dev", "page/d0")
	put("dev", "page/d1")

	pages := listPages(t, ctx, vars, "default", "page/", 10, "")
	if got := []int{len(pages[0]), len(pages[1]), len(pages[len(pages)-1])}; len(pages) != 3 || !slices.Equal(got, []int{10, 10, 5}) {
		t.Fatalf("25 variables 10 a page: %d pages %v", len(pages), pages)
	}
	if all := slices.Concat(pages...); !slices.Equal(all, names("default", "page/v%02d", 0, 25)) {
		t.Fatalf("pages together: %v, want page/v00 to page/v24 once each, in order", all)
	}

	// Nomad's header, beside Drover's; none on the last page.
	resp, err := http.Get("http://" + s.HTTPAddr() + "/v1/vars?prefix=page/&per_page=10")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Nomad-NextToken"); got != "default.page/v10" || resp.Header.Get(api.HeaderNextToken) != got {
		t.Fatalf("first page's next token %q (%s %q), want default.page/v10", got, api.HeaderNextToken, resp.Header.Get(api.HeaderNextToken))
	}
	resp, err = http.Get("http://" + s.HTTPAddr() + "/v1/vars?prefix=page/&per_page=10&next_token=default.page/v20")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, ok := resp.Header["X-Nomad-Nexttoken"]; ok {
		t.Fatalf("the last page has a next token %q", resp.Header.Get("X-Nomad-NextToken"))
	}

	// The prefix filter across pages.
	pages = listPages(t, ctx, vars, "default", "page/v1", 4, "")
	if all := slices.Concat(pages...); len(pages) != 3 || !slices.Equal(all, names("default", "page/v%02d", 10, 20)) {
		t.Fatalf("prefix page/v1 4 a page: %v", pages)
	}

	// The next page's first variable is deleted before it is read: the
	// page starts at the one after it.
	first, meta, err := vars.List(ctx, "default", "page/", &api.QueryOptions{Params: map[string]string{"per_page": "10"}})
	if err != nil || len(first) != 10 || meta.NextToken != "default.page/v10" {
		t.Fatalf("first page: %d variables, next token %q, %v", len(first), meta.NextToken, err)
	}
	if err := vars.Delete(ctx, "default", "page/v10", nil); err != nil {
		t.Fatal(err)
	}
	rest := slices.Concat(listPages(t, ctx, vars, "default", "page/", 10, meta.NextToken)...)
	if !slices.Equal(rest, names("default", "page/v%02d", 11, 25)) {
		t.Fatalf("after the token's variable was deleted: %v, want page/v11 to page/v24", rest)
	}
	// A token between two paths starts at the next one.
	rest = slices.Concat(listPages(t, ctx, vars, "default", "page/", 10, "default.page/v15a")...)
	if !slices.Equal(rest, names("default", "page/v%02d", 16, 25)) {
		t.Fatalf("from default.page/v15a: %v, want page/v16 to page/v24", rest)
	}

	// Every namespace, 7 a page: default's then dev's, each once.
	all := slices.Concat(listPages(t, ctx, vars, "*", "page/", 7, "")...)
	want := slices.Concat(names("default", "page/v%02d", 0, 10), names("default", "page/v%02d", 11, 25), names("dev", "page/d%d", 0, 2))
	if !slices.Equal(all, want) {
		t.Fatalf("every namespace: %v, want %v", all, want)
	}
	// No per_page: one page of them all (the cap is the largest page).
	list, meta, err := vars.List(ctx, "default", "", nil)
	if err != nil || len(list) != 26 || meta.NextToken != "" {
		t.Fatalf("unpaged list: %d variables, next token %q, %v", len(list), meta.NextToken, err)
	}

	for _, bad := range []string{"-1", "ten"} {
		r := rawVar(t, s, http.MethodGet, "/v1/vars?per_page="+bad, "")
		if r.code != http.StatusBadRequest || !strings.Contains(string(r.body), "per_page") {
			t.Errorf("per_page=%s: %d %s, want 400 naming per_page", bad, r.code, r.body)
		}
	}
	if r := rawVar(t, s, http.MethodGet, "/v1/vars?per_page=100000", ""); r.code != http.StatusOK {
		t.Errorf("per_page over the cap: %d %s, want 200 (capped)", r.code, r.body)
	}
}
