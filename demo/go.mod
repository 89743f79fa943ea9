module github.com/traceweave/traceweave/demo

go 1.26
