// one underscore missing
