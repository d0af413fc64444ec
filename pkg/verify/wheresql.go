package verify

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// whereSQL writes a transforms where expression (the expr language) as a
// SQL condition on the source table, for the part of the language a row
// filter usually needs: comparisons of columns with literals, nil, in,
// and, or, not. Columns are named by names (the expression's variable →
// the source column). It returns an error for anything else, so a filter
// is never approximated.
//
// Semantics follow the pipeline's: a comparison with NULL that the
// pipeline evaluates without error (== and != with nil, or a NULL column
// on either side of == / !=) gives the same truth value; string equality
// is exact (binary in MySQL, whose default collations ignore case).
func whereSQL(e engine, src string, names map[string]string) (string, error) {
	tree, err := parser.Parse(src)
	if err != nil {
		return "", err
	}
	w := &sqlWriter{e: e, names: names}
	return w.node(tree.Node)
}

type sqlWriter struct {
	e     engine
	names map[string]string
}

var errUnsupported = errors.New("unsupported")

func (w *sqlWriter) node(n ast.Node) (string, error) {
	switch x := n.(type) {
	case *ast.BinaryNode:
		return w.binary(x)
	case *ast.UnaryNode:
		if x.Operator == "not" || x.Operator == "!" {
			s, err := w.node(x.Node)
			if err != nil {
				return "", err
			}
			return "NOT (" + s + ")", nil
		}
		if x.Operator == "-" {
			s, err := w.node(x.Node)
			return "(-" + s + ")", err
		}
	case *ast.IdentifierNode:
		col, ok := w.names[x.Value]
		if !ok {
			return "", fmt.Errorf("%s is not a column", x.Value)
		}
		return w.e.ident(col), nil
	case *ast.StringNode:
		return w.e.lit(x.Value), nil
	case *ast.IntegerNode:
		return strconv.Itoa(x.Value), nil
	case *ast.FloatNode:
		return strconv.FormatFloat(x.Value, 'g', -1, 64), nil
	case *ast.BoolNode:
		if x.Value {
			return "TRUE", nil
		}
		return "FALSE", nil
	case *ast.NilNode:
		return "NULL", nil
	}
	return "", fmt.Errorf("%w: %T", errUnsupported, n)
}

func (w *sqlWriter) binary(x *ast.BinaryNode) (string, error) {
	op := x.Operator
	switch op {
	case "and", "&&", "or", "||":
		l, err := w.node(x.Left)
		if err != nil {
			return "", err
		}
		r, err := w.node(x.Right)
		if err != nil {
			return "", err
		}
		sqlOp := " AND "
		if op == "or" || op == "||" {
			sqlOp = " OR "
		}
		return "(" + l + sqlOp + r + ")", nil
	case "in", "not in":
		l, err := w.node(x.Left)
		if err != nil {
			return "", err
		}
		arr, ok := x.Right.(*ast.ArrayNode)
		if !ok || len(arr.Nodes) == 0 {
			return "", fmt.Errorf("%w: in needs a list of literals", errUnsupported)
		}
		var items []string
		for _, it := range arr.Nodes {
			s, err := w.node(it)
			if err != nil {
				return "", err
			}
			items = append(items, w.exact(it, s))
		}
		s := "COALESCE(" + w.exact(x.Left, l) + " IN (" + strings.Join(items, ", ") + "), FALSE)"
		if op == "not in" {
			s = "NOT " + s
		}
		return s, nil
	case "==", "!=":
		if _, ok := x.Right.(*ast.NilNode); ok {
			return w.isNull(x.Left, op == "!=")
		}
		if _, ok := x.Left.(*ast.NilNode); ok {
			return w.isNull(x.Right, op == "!=")
		}
		l, err := w.node(x.Left)
		if err != nil {
			return "", err
		}
		r, err := w.node(x.Right)
		if err != nil {
			return "", err
		}
		if op == "==" {
			return "COALESCE(" + w.exact(x.Left, l) + " = " + w.exact(x.Right, r) + ", FALSE)", nil
		}
		// nil != 'x' is true in the pipeline; SQL's NULL <> 'x' is NULL.
		return "COALESCE(" + w.exact(x.Left, l) + " <> " + w.exact(x.Right, r) + ", TRUE)", nil
	case "<", "<=", ">", ">=":
		// A NULL here stops the pipeline with an error, so no row the
		// target holds met one: SQL's NULL (no row) agrees.
		l, err := w.node(x.Left)
		if err != nil {
			return "", err
		}
		r, err := w.node(x.Right)
		if err != nil {
			return "", err
		}
		return "(" + w.exact(x.Left, l) + " " + op + " " + w.exact(x.Right, r) + ")", nil
	}
	return "", fmt.Errorf("%w: operator %s", errUnsupported, op)
}

// exact makes a string literal compare byte for byte in MySQL.
func (w *sqlWriter) exact(n ast.Node, s string) string {
	if _, ok := n.(*ast.StringNode); ok && w.e.kind() == "mysql" {
		return "BINARY " + s
	}
	return s
}

func (w *sqlWriter) isNull(n ast.Node, not bool) (string, error) {
	s, err := w.node(n)
	if err != nil {
		return "", err
	}
	if not {
		return "(" + s + " IS NOT NULL)", nil
	}
	return "(" + s + " IS NULL)", nil
}
