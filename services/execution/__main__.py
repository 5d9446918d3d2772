from execution.serve import main

main()
