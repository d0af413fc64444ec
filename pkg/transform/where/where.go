// Package where compiles the row filters of `transforms[].where`: boolean
// expressions in the expr language (github.com/expr-lang/expr) over a row's
// columns. An expression is checked and compiled once; Match runs it on one
// row's variables (see Var for the Go type each column gets).
package where

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// maxNodes bounds an expression's size: a filter is a short predicate.
const maxNodes = 10000

// Expr is a compiled row filter.
type Expr struct {
	src     string
	prog    *vm.Program
	vars    []string // column names the expression reads, sorted
	allVars bool     // $env is used: every column may be read
}

// Compile checks and compiles a filter. The error says what is wrong and,
// where it can, how to write it instead; it does not name the config key.
func Compile(src string) (*Expr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("is empty (write a condition on the row's columns, e.g. country == 'NL', or leave where out)")
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("is not a valid expression: %s", oneLine(err))
	}
	v := &visitor{declared: map[string]bool{}}
	ast.Walk(&tree.Node, v)
	if v.err != nil {
		return nil, v.err
	}
	prog, err := expr.Compile(src, expr.AsBool(), expr.MaxNodes(maxNodes))
	if err != nil {
		return nil, fmt.Errorf("is not a valid condition: %s (it must be true or false for a row, e.g. country == 'NL' && age < 30)", oneLine(err))
	}
	e := &Expr{src: src, prog: prog, allVars: v.env}
	for name := range v.idents {
		if !v.declared[name] {
			e.vars = append(e.vars, name)
		}
	}
	slices.Sort(e.vars)
	return e, nil
}

// String is the expression's source text.
func (e *Expr) String() string { return e.src }

// Vars are the column names the expression reads, sorted.
func (e *Expr) Vars() []string { return e.vars }

// AllVars tells whether the expression uses $env, so may read any column.
func (e *Expr) AllVars() bool { return e.allVars }

// Match runs the filter on one row's variables (column name → value as Var
// makes it). A runtime error (e.g. a NULL compared with <) is returned with
// a hint; it never counts as "no match", which would drop rows silently.
func (e *Expr) Match(env map[string]any) (bool, error) {
	out, err := expr.Run(e.prog, env)
	if err != nil {
		msg := oneLine(err)
		if strings.HasPrefix(msg, "invalid operation: bool(") {
			return false, fmt.Errorf("gave a value that is not true or false (%s; write a condition, e.g. amount > 0)", msg)
		}
		if strings.Contains(msg, "<nil>") {
			msg += "; a column in it is NULL: guard it, e.g. age != nil && age < 30, or (age ?? 0) < 30"
		}
		return false, errors.New(msg)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("gave %v (%T), not true or false (write a condition, e.g. amount > 0)", out, out)
	}
	return b, nil
}

// visitor collects the identifiers an expression reads and refuses what a
// replicated filter must not do.
type visitor struct {
	idents   map[string]bool
	declared map[string]bool // let-bound names, not columns
	env      bool
	err      error
}

func (v *visitor) Visit(n *ast.Node) {
	if v.err != nil {
		return
	}
	switch x := (*n).(type) {
	case *ast.IdentifierNode:
		if x.Value == "$env" {
			v.env = true
			return
		}
		if v.idents == nil {
			v.idents = map[string]bool{}
		}
		v.idents[x.Value] = true
	case *ast.VariableDeclaratorNode:
		v.declared[x.Name] = true
	case *ast.CallNode:
		if id, ok := x.Callee.(*ast.IdentifierNode); ok {
			v.err = fmt.Errorf("calls %s(), which is not a function of the expression language (use its built-ins, e.g. len, lower, upper, trim, abs, date, startsWith)", id.Value)
		}
	case *ast.BuiltinNode:
		if x.Name == "now" {
			v.err = errors.New("uses now(): a filter must give the same answer whenever a row is read, or the target would not equal the filtered source (compare with a fixed date instead, e.g. created > date('2024-01-01'))")
		}
	}
}

// oneLine keeps the first line of an expr error (the rest draws a caret
// under the expression).
func oneLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return strings.TrimSpace(s)
}
