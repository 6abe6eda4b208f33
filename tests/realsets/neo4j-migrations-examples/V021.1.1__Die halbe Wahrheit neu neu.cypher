RETURN 42/2 AS `Die halbe Wahrheit neu`;
