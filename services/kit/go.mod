module github.com/selfserve/selfserve/services/kit

go 1.26.7
