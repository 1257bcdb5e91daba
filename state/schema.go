package state

import (
	"encoding/binary"
	"fmt"

	"github.com/droverhq/drover/cluster"
	memdb "github.com/hashicorp/go-memdb"
)

// Table names. They are also the keys of the index table and what blocking
// queries name to say what they depend on.
const (
	TableJobs        = "jobs"         // the latest version of each job
	TableJobVersions = "job_versions" // every version of every job
	TableNodes       = "nodes"
	TableAllocs      = "allocs"
	TableEvals       = "evals"
	TableDeployments = "deployments"
	TableSyncStatus  = "sync_status"
	tableIndex       = "index"
)

// dataTables are the tables that hold records, in the order snapshots
// write them.
var dataTables = []string{
	TableJobVersions, TableJobs, TableNodes, TableAllocs, TableEvals,
	TableDeployments, TableSyncStatus, TableMembers, TableACLPolicies,
	TableACLTokens, TableAudit, TableTLSKeyring, TableJobHistory,
	TablePeriodicLaunch,
	TableNodePools,
	TableIdentityKey,
	TableVariables, TableRootKeys, // variables.go, root_key.go
	TableServices, // service.go
	TableSealKey,
}

// indexEntry is the Raft index of the last write to one table.
type indexEntry struct {
	Table string `json:"table"`
	Index uint64 `json:"index"`
}

func schema() *memdb.DBSchema {
	jobKey := func(ns, id string) []string { return []string{ns, id} }
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		TableJobs: {
			Name: TableJobs,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: keyIndex[*cluster.Job](2, func(j *cluster.Job) []string {
					return jobKey(j.Namespace, j.ID)
				})},
			},
		},
		TableJobVersions: {
			Name: TableJobVersions,
			Indexes: map[string]*memdb.IndexSchema{
				// id is namespace, job ID, then the version big-endian, so
				// that a prefix scan over one job walks its versions in
				// order.
				"id": {Name: "id", Unique: true, Indexer: versionIndex{}},
			},
		},
		TableNodes: {
			Name: TableNodes,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: keyIndex[*cluster.Node](1, func(n *cluster.Node) []string {
					return []string{n.ID}
				})},
			},
		},
		TableAllocs: {
			Name: TableAllocs,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: keyIndex[*cluster.Allocation](1, func(a *cluster.Allocation) []string {
					return []string{a.ID}
				})},
				"job": {Name: "job", Indexer: keyIndex[*cluster.Allocation](2, func(a *cluster.Allocation) []string {
					return jobKey(a.Namespace, a.JobID)
				})},
				"node": {Name: "node", AllowMissing: true, Indexer: keyIndex[*cluster.Allocation](1, func(a *cluster.Allocation) []string {
					return []string{a.NodeID}
				})},
				"eval": {Name: "eval", AllowMissing: true, Indexer: keyIndex[*cluster.Allocation](1, func(a *cluster.Allocation) []string {
					return []string{a.EvalID}
				})},
				"deployment": {Name: "deployment", AllowMissing: true, Indexer: keyIndex[*cluster.Allocation](1, func(a *cluster.Allocation) []string {
					return []string{a.DeploymentID}
				})},
			},
		},
		TableEvals: {
			Name: TableEvals,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: keyIndex[*cluster.Evaluation](1, func(e *cluster.Evaluation) []string {
					return []string{e.ID}
				})},
				"job": {Name: "job", Indexer: keyIndex[*cluster.Evaluation](2, func(e *cluster.Evaluation) []string {
					return jobKey(e.Namespace, e.JobID)
				})},
			},
		},
		TableDeployments: {
			Name: TableDeployments,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: keyIndex[*cluster.Deployment](1, func(d *cluster.Deployment) []string {
					return []string{d.ID}
				})},
				"job": {Name: "job", Indexer: keyIndex[*cluster.Deployment](2, func(d *cluster.Deployment) []string {
					return jobKey(d.Namespace, d.JobID)
				})},
			},
		},
		TableSyncStatus: {
			Name: TableSyncStatus,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: keyIndex[*cluster.SyncStatus](1, func(s *cluster.SyncStatus) []string {
					return []string{s.Source}
				})},
			},
		},
		TableMembers:        membersTable(),
		TableACLPolicies:    aclPoliciesTable(),
		TableACLTokens:      aclTokensTable(),
		TableAudit:          auditTable(),
		TableTLSKeyring:     tlsKeyringTable(),
		TableJobHistory:     jobHistoryTable(),
		TablePeriodicLaunch: periodicLaunchTable(),
		TableNodePools:      nodePoolsTable(),
		TableIdentityKey:    identityKeyTable(),
		TableSealKey:        sealKeyTable(),
		TableVariables:      variablesTable(),
		TableRootKeys:       rootKeysTable(),
		TableServices:       servicesTable(),
		TableJobSummary:     jobSummaryTable(), // job_summary.go: derived, never in a snapshot
		tableIndex: {
			Name: tableIndex,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: keyIndex[*indexEntry](1, func(e *indexEntry) []string {
					return []string{e.Table}
				})},
			},
		},
	}}
}

// keyIndex indexes records of type T by n string fields, each terminated
// by a zero byte so that ("a", "bc") and ("ab", "c") differ and a prefix of
// whole fields selects exactly the records that share them. It is typed
// rather than memdb's reflection-based StringFieldIndex because every
// allocation update re-indexes five keys.
func keyIndex[T any](n int, fields func(T) []string) *typedIndex[T] {
	return &typedIndex[T]{n: n, fields: fields}
}

type typedIndex[T any] struct {
	n      int
	fields func(T) []string
}

func (x *typedIndex[T]) FromObject(raw any) (bool, []byte, error) {
	obj, ok := raw.(T)
	if !ok {
		return false, nil, fmt.Errorf("index: got %T", raw)
	}
	fs := x.fields(obj)
	var key []byte
	for _, f := range fs {
		if f == "" {
			// Missing values are not indexed; required ones are checked
			// by the commands before they write.
			return false, nil, nil
		}
		key = append(append(key, f...), 0)
	}
	return true, key, nil
}

func (x *typedIndex[T]) FromArgs(args ...any) ([]byte, error) {
	if len(args) != x.n {
		return nil, fmt.Errorf("index: want %d arguments, got %d", x.n, len(args))
	}
	return stringKey(args)
}

// PrefixFromArgs serves the "<index>_prefix" lookups: the first fields of
// the key, each complete.
func (x *typedIndex[T]) PrefixFromArgs(args ...any) ([]byte, error) {
	if len(args) > x.n {
		return nil, fmt.Errorf("index: want at most %d arguments, got %d", x.n, len(args))
	}
	return stringKey(args)
}

func stringKey(args []any) ([]byte, error) {
	var key []byte
	for i, a := range args {
		s, ok := a.(string)
		if !ok {
			return nil, fmt.Errorf("index: argument %d is %T, not string", i, a)
		}
		key = append(append(key, s...), 0)
	}
	return key, nil
}

// versionIndex keys job versions by namespace, job ID and version.
type versionIndex struct{}

func (versionIndex) FromObject(raw any) (bool, []byte, error) {
	j, ok := raw.(*cluster.Job)
	if !ok {
		return false, nil, fmt.Errorf("version index: got %T", raw)
	}
	key, _ := stringKey([]any{j.Namespace, j.ID})
	return true, binary.BigEndian.AppendUint64(key, j.Version), nil
}

func (versionIndex) FromArgs(args ...any) ([]byte, error) {
	if len(args) != 3 {
		return nil, fmt.Errorf("version index: want 3 arguments, got %d", len(args))
	}
	key, err := stringKey(args[:2])
	if err != nil {
		return nil, err
	}
	v, ok := args[2].(uint64)
	if !ok {
		return nil, fmt.Errorf("version index: version is %T, not uint64", args[2])
	}
	return binary.BigEndian.AppendUint64(key, v), nil
}

func (versionIndex) PrefixFromArgs(args ...any) ([]byte, error) {
	if len(args) > 2 {
		return nil, fmt.Errorf("version index: prefix takes namespace and job ID")
	}
	return stringKey(args)
}
