from hake.cli import main

main()
