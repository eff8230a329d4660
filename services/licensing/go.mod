module github.com/selfserve/selfserve/services/licensing

go 1.26.7
