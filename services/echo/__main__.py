from echo.server import main

main()
