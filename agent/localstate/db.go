// Package localstate is a client agent's memory across restarts: the
// node's ID, the allocations it runs, and for each task its driver handle,
// its reported state and its restart counters. It is a bbolt file in the
// agent's data dir, written before the agent acts on what it records, so
// that an agent killed at any point finds on disk every task it may have
// started.
package localstate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/droverhq/drover/cluster"
	"github.com/droverhq/drover/drivers"
	"github.com/droverhq/drover/jobspec"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Layout: bucket "meta" holds "node_id" and "node_secret"; bucket
// "allocs" holds one nested bucket per allocation ID with keys "alloc",
// "job", "task/<name>" and "tmplsum/<name>".
var (
	bucketMeta    = []byte("meta")
	bucketAllocs  = []byte("allocs")
	keyNodeID     = []byte("node_id")
	keyNodeSecret = []byte("node_secret")
	keyAlloc      = []byte("alloc")
	keyJob        = []byte("job")
	taskPrefix    = "task/"
	tmplSumPrefix = "tmplsum/"
)

// DB is the agent's local state. Safe for concurrent use.
type DB struct {
	db *bolt.DB
}

// TaskRecord is everything the agent must know about a task to carry on
// after a restart.
type TaskRecord struct {
	State *cluster.TaskState `json:"state"`
	// Handle is the driver's handle of the current run; nil when no run
	// is live (not started yet, or finished and destroyed).
	Handle  *drivers.TaskHandle `json:"handle,omitempty"`
	Restart RestartCounters     `json:"restart"`
	// Launched is set once the allocation's lifecycle reached the task;
	// Done once the task will never run again on this node.
	Launched bool `json:"launched,omitempty"`
	Done     bool `json:"done,omitempty"`
}

// RestartCounters are the restart tracker's memory: how many restarts
// happened in the interval that began at WindowStart.
type RestartCounters struct {
	Count       int       `json:"count"`
	WindowStart time.Time `json:"window_start"`
}

// AllocRecord is one allocation as the agent last stored it.
type AllocRecord struct {
	Alloc *cluster.Allocation
	Job   *jobspec.Job
	Tasks map[string]*TaskRecord
}

// Open opens (creating) <dir>/state.db. The file holds the node's
// secret, so it is readable by its owner only (0600), also when an older
// agent made it with a wider mode.
func Open(dir string) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("localstate: %w", err)
	}
	path := filepath.Join(dir, "state.db")
	if err := os.Chmod(path, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("localstate: %w", err)
	}
	// The timeout turns a second agent on the same data dir into an error
	// instead of a hang: bbolt holds an exclusive flock.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("localstate: %s is locked: is another agent using this data dir?", path)
		}
		return nil, fmt.Errorf("localstate: open %s: %w", path, err)
	}
	// Writes of many tasks starting at once share one fsync; the default
	// 10ms wait for company is too long for a task's start path.
	db.MaxBatchDelay = 2 * time.Millisecond
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketMeta); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(bucketAllocs)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("localstate: init %s: %w", path, err)
	}
	return &DB{db: db}, nil
}

// Close closes the file.
func (d *DB) Close() error { return d.db.Close() }

// NodeID returns the stored node ID, or "" if none was stored yet.
func (d *DB) NodeID() (string, error) {
	var id string
	err := d.db.View(func(tx *bolt.Tx) error {
		id = string(tx.Bucket(bucketMeta).Get(keyNodeID))
		return nil
	})
	return id, err
}

// NodeSecret returns the stored node secret, or "" if none was stored
// (a data dir of an agent older than node secrets).
func (d *DB) NodeSecret() (string, error) {
	var secret string
	err := d.db.View(func(tx *bolt.Tx) error {
		secret = string(tx.Bucket(bucketMeta).Get(keyNodeSecret))
		return nil
	})
	return secret, err
}

// SetNodeIdentity stores the node ID and secret together; an empty
// secret removes the stored one.
func (d *DB) SetNodeIdentity(id, secret string) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if err := b.Put(keyNodeID, []byte(id)); err != nil {
			return err
		}
		if secret == "" {
			return b.Delete(keyNodeSecret)
		}
		return b.Put(keyNodeSecret, []byte(secret))
	})
}

// PutAlloc stores an allocation and the job version it runs. Task
// records are kept.
func (d *DB) PutAlloc(a *cluster.Allocation, job *jobspec.Job) error {
	ab, err := json.Marshal(a)
	if err != nil {
		return err
	}
	var jb []byte
	if job != nil {
		if jb, err = json.Marshal(job); err != nil {
			return err
		}
	}
	// Batch: many allocations arriving at once share one fsync.
	return d.db.Batch(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketAllocs).CreateBucketIfNotExists([]byte(a.ID))
		if err != nil {
			return err
		}
		if err := b.Put(keyAlloc, ab); err != nil {
			return err
		}
		if jb != nil {
			return b.Put(keyJob, jb)
		}
		return nil
	})
}

// PutTask stores a task's record.
func (d *DB) PutTask(allocID, task string, rec *TaskRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return d.db.Batch(func(tx *bolt.Tx) error {
		ab := tx.Bucket(bucketAllocs).Bucket([]byte(allocID))
		if ab == nil {
			return fmt.Errorf("localstate: allocation %s is not stored", allocID)
		}
		return ab.Put([]byte(taskPrefix+task), b)
	})
}

// DeleteAlloc forgets an allocation and its tasks.
func (d *DB) DeleteAlloc(id string) error {
	return d.db.Batch(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketAllocs).DeleteBucket([]byte(id))
		if errors.Is(err, berrors.ErrBucketNotFound) {
			return nil
		}
		return err
	})
}

// Allocs returns every stored allocation. A record that does not decode
// is reported in the error but does not hide the others.
func (d *DB) Allocs() ([]*AllocRecord, error) {
	var out []*AllocRecord
	var errs []error
	err := d.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAllocs).ForEachBucket(func(k []byte) error {
			b := tx.Bucket(bucketAllocs).Bucket(k)
			rec := &AllocRecord{Tasks: map[string]*TaskRecord{}}
			if err := json.Unmarshal(b.Get(keyAlloc), &rec.Alloc); err != nil {
				errs = append(errs, fmt.Errorf("allocation %s: %w", k, err))
				return nil
			}
			if jb := b.Get(keyJob); jb != nil {
				if err := json.Unmarshal(jb, &rec.Job); err != nil {
					errs = append(errs, fmt.Errorf("allocation %s job: %w", k, err))
					return nil
				}
			}
			out = append(out, rec)
			return b.ForEach(func(key, v []byte) error {
				name, ok := strings.CutPrefix(string(key), taskPrefix)
				if !ok {
					return nil
				}
				var tr TaskRecord
				if err := json.Unmarshal(v, &tr); err != nil {
					errs = append(errs, fmt.Errorf("allocation %s task %s: %w", k, name, err))
					return nil
				}
				rec.Tasks[name] = &tr
				return nil
			})
		})
	})
	if err != nil {
		return nil, err
	}
	return out, errors.Join(errs...)
}

// TemplateSums are keyed digests of the last rendered text of a task's
// templates that live only in its environment (env = true without a
// destination: no file holds their text). After an agent restart a
// template's first render is compared with its digest, to apply its
// change_mode when the data changed while no agent ran. Only digests
// are stored, never the text, which may hold secrets: HMAC-SHA256 under
// Key, random per record, so equal secrets do not look equal across
// tasks or nodes and no precomputed table turns a digest back into a
// guessable secret.
type TemplateSums struct {
	Key []byte `json:"key"`
	// Sums are by template position, nil for the task's other
	// templates; as many as the task has templates.
	Sums [][]byte `json:"sums"`
}

// maxTemplateSums bounds a stored record: a task's templates are
// counted in tens, not thousands; a bigger record is refused rather
// than stored, and one read back is ignored.
const maxTemplateSums = 4096

// PutTemplateSums stores a task's template digests, replacing the
// previous ones.
func (d *DB) PutTemplateSums(allocID, task string, s *TemplateSums) error {
	if len(s.Sums) > maxTemplateSums {
		return fmt.Errorf("localstate: %d template digests for task %s; at most %d", len(s.Sums), task, maxTemplateSums)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return d.db.Batch(func(tx *bolt.Tx) error {
		ab := tx.Bucket(bucketAllocs).Bucket([]byte(allocID))
		if ab == nil {
			return fmt.Errorf("localstate: allocation %s is not stored", allocID)
		}
		return ab.Put([]byte(tmplSumPrefix+task), b)
	})
}

// TemplateSums returns a task's template digests; nil when none are
// stored (the task has no such template, or an older agent ran it).
func (d *DB) TemplateSums(allocID, task string) (*TemplateSums, error) {
	var s *TemplateSums
	err := d.db.View(func(tx *bolt.Tx) error {
		ab := tx.Bucket(bucketAllocs).Bucket([]byte(allocID))
		if ab == nil {
			return nil
		}
		b := ab.Get([]byte(tmplSumPrefix + task))
		if b == nil {
			return nil
		}
		var v TemplateSums
		if err := json.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("localstate: allocation %s task %s template digests: %w", allocID, task, err)
		}
		if len(v.Sums) <= maxTemplateSums {
			s = &v
		}
		return nil
	})
	return s, err
}
