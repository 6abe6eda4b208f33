CREATE (s:Stuff)
SET s.prop = "
this is a nice string with
// a comment
  // in it!
";
// Arbitrary comment at end