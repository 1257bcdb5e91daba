package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/droverhq/drover/cluster"
)

func TestLogTailAcrossRotatedFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("web.stdout.3", "a\nb\n")
	write("web.stdout.4", "c\nd\ne")
	cases := []struct {
		lines int
		want  string
	}{
		{-1, "a\nb\nc\nd\ne"},
		{0, ""},
		{1, "e"},
		{2, "d\ne"},
		{4, "b\nc\nd\ne"},
		{99, "a\nb\nc\nd\ne"},
	}
	for _, c := range cases {
		tl := &logTail{dir: dir, name: "web.stdout"}
		if err := tl.start(c.lines); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := tl.stream(context.Background(), &b, false, func() bool { return true }); err != nil {
			t.Fatal(err)
		}
		if b.String() != c.want {
			t.Errorf("lines=%d: %q, want %q", c.lines, b.String(), c.want)
		}
	}
	// A trailing newline ends the last line.
	write("web.stdout.4", "c\nd\n")
	tl := &logTail{dir: dir, name: "web.stdout"}
	_ = tl.start(1)
	var b bytes.Buffer
	_ = tl.stream(context.Background(), &b, false, func() bool { return true })
	if b.String() != "d\n" {
		t.Errorf("last line = %q", b.String())
	}
}

func TestPlanAllocs(t *testing.T) {
	a := func(id string, idx uint64, desired, client string) *cluster.Allocation {
		return &cluster.Allocation{ID: id, ModifyIndex: idx, DesiredStatus: desired, ClientStatus: client}
	}
	server := []*cluster.Allocation{
		a("new", 5, "run", "pending"),
		a("new-but-stopped", 5, "stop", "pending"),
		a("same", 3, "run", "running"),
		a("changed", 9, "stop", "running"),
	}
	p := planAllocs(server, map[string]uint64{"same": 3, "changed": 4, "gone": 2})
	ids := func(as []*cluster.Allocation) []string {
		var out []string
		for _, x := range as {
			out = append(out, x.ID)
		}
		return out
	}
	sort.Strings(p.Remove)
	if !reflect.DeepEqual(ids(p.Add), []string{"new"}) || !reflect.DeepEqual(ids(p.Update), []string{"changed"}) || !reflect.DeepEqual(p.Remove, []string{"gone"}) {
		t.Errorf("plan = add %v update %v remove %v", ids(p.Add), ids(p.Update), p.Remove)
	}
}
