package drivers_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/drivers/exec"
)

func newExec(t *testing.T) drivers.Driver {
	t.Helper()
	d, err := exec.New(exec.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRegistry(t *testing.T) {
	e := newExec(t)
	r, err := drivers.NewRegistry(e)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := r.Lookup("exec"); !ok || d != e {
		t.Errorf("Lookup(exec) = %v, %v; want the exec driver", d, ok)
	}
	// raw_exec is a driver of its own now, not an alias of exec.
	if d, ok := r.Lookup("raw_exec"); ok {
		t.Errorf("Lookup(raw_exec) = %v without a raw_exec driver", d)
	}
	if _, ok := r.Lookup("docker"); ok {
		t.Error("Lookup(docker) found a driver that was never registered")
	}
	if got := fmt.Sprint(r.Names()); got != "[exec]" {
		t.Errorf("Names = %s", got)
	}
	if err := r.Register(newExec(t)); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("second exec: %v", err)
	}
}

func TestRegistryAliasNeedsTarget(t *testing.T) {
	r, err := drivers.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Lookup("raw_exec"); ok {
		t.Error("raw_exec resolved without an exec driver")
	}
	if n := r.Names(); len(n) != 0 {
		t.Errorf("Names of an empty registry = %v", n)
	}
}

func TestRegistryValidateConfig(t *testing.T) {
	r, err := drivers.NewRegistry(newExec(t))
	if err != nil {
		t.Fatal(err)
	}
	if errs := r.ValidateConfig("exec", map[string]any{"command": "/bin/true", "args": []any{"x"}}); len(errs) != 0 {
		t.Errorf("valid exec config: %v", errs)
	}
	errs := r.ValidateConfig("exec", map[string]any{"comand": "/bin/true"})
	want := `[comand: neither Drover's nor Nomad's exec driver has this option; did you mean "command"? command: required attribute (string) is missing]`
	if fmt.Sprint(errs) != want {
		t.Errorf("errors = %v\nwant %s", errs, want)
	}
	if errs := r.ValidateConfig("qemu", nil); len(errs) != 1 || errs[0].Path != "driver" {
		t.Errorf("unknown driver: %v", errs)
	}
}
