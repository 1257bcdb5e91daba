package main

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/droverhq/drover/api"
	"github.com/droverhq/drover/server/servertest"
)

// TestVarListFollowsPages: `drover var list` reads every page of a
// paged list, each variable once and in order, with the prefix.
func TestVarListFollowsPages(t *testing.T) {
	s := servertest.Single(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	vars := s.Client.Variables()
	var want []string
	for i := range 25 {
		p := fmt.Sprintf("app/v%02d", i)
		want = append(want, p)
		if _, err := vars.Put(ctx, &api.Variable{Path: p, Items: map[string]string{"k": "v"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := vars.Put(ctx, &api.Variable{Path: "zzz/outside", Items: map[string]string{"k": "v"}}, nil); err != nil {
		t.Fatal(err)
	}
	got, err := listAllVariables(ctx, vars, "default", "app/", 10)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, v := range got {
		paths = append(paths, v.Path)
	}
	if !slices.Equal(paths, want) {
		t.Fatalf("three pages of 10 read as %v, want app/v00 to app/v24 once each", paths)
	}
}
