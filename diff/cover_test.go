package diff

import (
	"reflect"
	"testing"
	"time"

	"github.com/droverhq/drover/jobspec"
)

// filler builds a job in which every field is set. Each leaf and each
// container it visits is a numbered mutation point; the point numbered
// target gets another value (a leaf) or is left empty (a container), so
// the jobs built with different targets differ in exactly one place.
type filler struct {
	target, n int
}

func (f *filler) hit() bool {
	f.n++
	return f.n-1 == f.target
}

func (f *filler) fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			// Fields left out of the JSON encoding (source positions)
			// are not part of the job.
			if v.Type().Field(i).Tag.Get("json") == "-" {
				continue
			}
			f.fill(v.Field(i))
		}
	case reflect.Pointer:
		if f.hit() {
			return
		}
		p := reflect.New(v.Type().Elem())
		f.fill(p.Elem())
		v.Set(p)
	case reflect.Slice:
		if f.hit() {
			return
		}
		s := reflect.MakeSlice(v.Type(), 1, 1)
		f.fill(s.Index(0))
		v.Set(s)
	case reflect.Map:
		if f.hit() {
			return
		}
		m := reflect.MakeMap(v.Type())
		e := reflect.New(v.Type().Elem()).Elem()
		f.fill(e)
		m.SetMapIndex(reflect.ValueOf("k"), e)
		v.Set(m)
	case reflect.String:
		if f.hit() {
			v.SetString("changed")
		} else {
			v.SetString("s")
		}
	case reflect.Int, reflect.Int64:
		if v.Type() == reflect.TypeFor[time.Duration]() {
			v.SetInt(int64(time.Second))
		} else {
			v.SetInt(1)
		}
		if f.hit() {
			v.SetInt(v.Int() * 2)
		}
	case reflect.Uint8:
		v.SetUint(1)
		if f.hit() {
			v.SetUint(2)
		}
	case reflect.Bool:
		v.SetBool(!f.hit())
	case reflect.Interface:
		if f.hit() {
			v.Set(reflect.ValueOf("changed"))
		} else {
			v.Set(reflect.ValueOf("s"))
		}
	default:
		panic("filler: unhandled kind " + v.Kind().String() + " at " + v.Type().String())
	}
}

func filledJob(target int) (*jobspec.Job, int) {
	f := &filler{target: target}
	j := &jobspec.Job{}
	f.fill(reflect.ValueOf(j).Elem())
	return j, f.n
}

// TestEqualCoversEveryField guards the hand-written equality and the
// jobspec-to-tree conversion against fields added to jobspec later: a
// change in any single field must make the jobs unequal and show up in the
// plan.
func TestEqualCoversEveryField(t *testing.T) {
	base, points := filledJob(-1)
	if points < 100 {
		t.Fatalf("only %d mutation points: filler is broken", points)
	}
	if !jobEqual(base, func() *jobspec.Job { j, _ := filledJob(-1); return j }()) {
		t.Fatal("two identical jobs are not equal")
	}
	for i := range points {
		mut, _ := filledJob(i)
		if jobEqual(base, mut) {
			t.Errorf("mutation point %d: jobEqual misses the change", i)
			continue
		}
		p := Compute(map[string]*jobspec.Job{"s": base}, map[string]*jobspec.Job{"s": mut}, Options{})
		if !p.HasChanges() {
			t.Errorf("mutation point %d: the plan shows no change", i)
		}
	}
}
